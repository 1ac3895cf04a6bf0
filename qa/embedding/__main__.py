"""`python -m qa.embedding [--quantization int8] [MODEL]`: the one-time ONNX export, now (`make run` does this)."""

from __future__ import annotations

import os
import sys

from ..errors import QAError
from . import default_quantization
from .export import QUANTIZATIONS, Exported, cache_folder, ensure_exported, verify


def main(argv: list[str] | None = None) -> int:
    """`python -m qa.embedding [--quantization int8] [MODEL]`: export now (make run does this)."""
    import argparse

    from ..config import DEFAULT_MODEL

    parser = argparse.ArgumentParser(prog="python -m qa.embedding", description=main.__doc__)
    parser.add_argument("model", nargs="?", default=os.environ.get("QA_MODEL") or DEFAULT_MODEL)
    parser.add_argument("--quantization", choices=QUANTIZATIONS, default=None)
    args = parser.parse_args(argv)

    try:
        quantization = args.quantization or default_quantization()
        if isinstance(verify(cache_folder(args.model, quantization)), Exported):
            return 0  # already there: quiet, so `make run` says nothing on later runs
        found = ensure_exported(args.model, quantization)
    except QAError as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    print(f"ONNX model ready in {found.folder} ({found.bytes / 1e6:.1f} MB, exported in {found.seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
