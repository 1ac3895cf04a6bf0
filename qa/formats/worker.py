"""The child process that parses web pages, PDFs and Word files: `python -m qa.formats.worker`.

Reads one JSON request a line on stdin ({"path", "kind", "limits"}), answers one JSON line on stdout
({"ok": extracted} or {"skip": reason}). Its memory is capped by an rlimit and it has no network, so a
hostile file can at worst kill this process, which the parent sees and reports as a skip.
"""

from __future__ import annotations

import json
import os
import socket
import sys


def _no_network(*args, **kwargs):
    raise OSError("no network in the format worker")


def _cap_memory(mb: int) -> None:
    try:
        import resource

        limit = mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ImportError, ValueError, OSError):  # not on this platform: the time limit still holds
        pass


def serve(stdin, stdout) -> None:
    from . import Limits, Unreadable, extract_bytes

    for line in stdin:
        try:
            request = json.loads(line)
            limits = Limits(**request.get("limits", {}))
            with open(request["path"], "rb") as fh:
                data = fh.read()
            answer = {"ok": json.loads(extract_bytes(request["kind"], data, limits).to_json())}
        except Unreadable as exc:
            answer = {"skip": exc.reason}
        except MemoryError:
            answer = {"skip": "needs more memory than the reading limit (QA_EXTRACT_MB)"}
        except RecursionError:
            answer = {"skip": "nested too deeply to read"}
        except PermissionError:
            answer = {"skip": "permission denied"}
        except OSError as exc:
            answer = {"skip": f"cannot read ({exc.strerror or exc})"}
        except Exception as exc:  # a parser bug on a strange file: that file is skipped, the build goes on
            answer = {"skip": f"cannot be parsed ({type(exc).__name__}: {' '.join(str(exc).split())[:80]})"}
        stdout.write(json.dumps(answer, ensure_ascii=False) + "\n")
        stdout.flush()


def main() -> None:
    socket.socket.connect = _no_network  # type: ignore[method-assign]
    socket.create_connection = _no_network  # type: ignore[assignment]
    _cap_memory(int(os.environ.get("QA_WORKER_MEMORY_MB", "1024")))
    serve(sys.stdin, sys.stdout)


if __name__ == "__main__":
    main()
