"""One seeded typo per question: how the typo robustness figures are measured (and a training augmentation)."""

from __future__ import annotations

import random
import re

_LETTERS = "abcdefghijklmnopqrstuvwxyz"


def add_typo(text: str, rng: random.Random) -> str:
    """Delete, swap, replace or insert one letter inside one word of four letters or more."""
    words = [m for m in re.finditer(r"[A-Za-z]{4,}", text)]
    if not words:
        return text
    m = rng.choice(words)
    w = m.group(0)
    i = rng.randrange(1, len(w) - 1)  # keep the first letter: people rarely get it wrong
    kind = rng.choice(("delete", "swap", "replace", "insert"))
    if kind == "delete":
        new = w[:i] + w[i + 1 :]
    elif kind == "swap":
        new = w[:i] + w[i + 1] + w[i] + w[i + 2 :] if i + 1 < len(w) else w[:i - 1] + w[i] + w[i - 1]
    elif kind == "replace":
        new = w[:i] + rng.choice([c for c in _LETTERS if c != w[i].lower()]) + w[i + 1 :]
    else:
        new = w[:i] + rng.choice(_LETTERS) + w[i:]
    return text[: m.start()] + new + text[m.end() :]
