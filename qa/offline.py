"""No network by default: the hub libraries are told to stay offline before any of them loads.

huggingface_hub and transformers read these variables once, at their own import, so this runs when the
`qa` package is imported (it only sets environment variables). `QA_ALLOW_DOWNLOADS=1` lets a user who
wants a hub model fetch it once; qa itself never needs it.
"""

from __future__ import annotations

import os

ALLOW_ENV = "QA_ALLOW_DOWNLOADS"
OFFLINE_VARS = ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE")


def downloads_allowed() -> bool:
    return os.environ.get(ALLOW_ENV, "").strip().lower() in ("1", "true", "yes", "on")


def go_offline() -> None:
    if downloads_allowed():
        return
    for name in OFFLINE_VARS:
        os.environ[name] = "1"
    # Telemetry and update checks are network calls too.
    os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
