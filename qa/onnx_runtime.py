"""ONNX Runtime sessions as this product wants them on a laptop CPU (shared by the embedder and the reader).

`onnxruntime` is imported only when a session is made, so importing this module costs nothing.
"""

from __future__ import annotations

import os
from pathlib import Path

THREADS_ENV = "QA_THREADS"


def thread_count() -> int:
    """$QA_THREADS, else the cores this process may run on (affinity, not the machine's total)."""
    given = os.environ.get(THREADS_ENV, "").strip()
    if given:
        try:
            return max(1, int(given))
        except ValueError:
            from .errors import QAError

            raise QAError(f"{THREADS_ENV}={given!r} is not a number.", f"Set {THREADS_ENV} to a thread count such as 2, or unset it.") from None
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def make_session(model: Path, threads: int | None = None, spinning: bool = False):
    """A CPU inference session. `spinning` keeps idle worker threads busy-waiting between runs: a little
    faster for back-to-back batches (a build), but it burns the cores an interactive UI needs."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or thread_count()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # warnings about unused initializers are not the user's business
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning else "0")
    return ort.InferenceSession(str(model), sess_options=options, providers=["CPUExecutionProvider"])
