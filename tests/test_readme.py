"""The README is the user guide: what it names must exist, and what it promises ("no network") must hold."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest

from qa.cli import cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_is_a_guide_that_links_the_figures():
    assert len(README.encode()) < 20_000  # the tables live in docs/
    for doc in ("docs/evaluation.md", "docs/benchmarks.md"):
        assert f"]({doc})" in README and (ROOT / doc).is_file()
    for section in ("## Asking", "## The chat app", "## Dates", "## Rebuilding", "## Supported files", "## Settings",
                    "## Exit codes", "## Network"):
        assert section in README, section
    assert "not a probability" in README and "--include-undated" in README


def test_every_command_and_option_the_readme_names_exists():
    named = re.findall(r"\bqa (index|ask|show|status|chat|eval)\b((?: (?!qa\b)(?:\"[^\"]*\"|[^\s`|]+))*)", README)
    assert len(named) > 10
    for command, rest in named:
        params = {opt for p in cli.commands[command].params for opt in getattr(p, "opts", [])}
        for flag in re.findall(r"(?<![\w-])(--?[a-z][\w-]*)", rest):
            assert flag in params, f"qa {command} {flag}"


def test_every_setting_the_readme_lists_is_read_by_the_code():
    code = "\n".join(p.read_text(encoding="utf-8") for folder in ("qa", "tui") for p in (ROOT / folder).rglob("*.py"))
    listed = set(re.findall(r"`(QA_[A-Z_]+)`", README))
    assert {"QA_ARTICLES_DIR", "QA_INDEX_DIR", "QA_MODEL", "QA_DEBUG"} <= listed
    for name in listed:
        assert f'"{name}"' in code, name


def test_every_key_of_the_app_is_in_the_readme():
    from tui.app import QAApp
    from tui.screens import ChatScreen
    from tui.viewer import SourceViewer

    shown = {"ctrl+r", "ctrl+n", "ctrl+s", "ctrl+q", "ctrl+p", "f1", "tab", "escape", "n", "p"}
    bindings = {b.key for cls in (QAApp, ChatScreen, SourceViewer) for b in cls.BINDINGS if b.key in shown or b.show}
    for key in bindings:
        spelled = {"f1": "F1", "tab": "Tab", "escape": "Escape"}.get(key, key)
        assert spelled in README, key


@pytest.mark.slow
def test_indexing_and_asking_never_touch_the_network(tmp_path):
    """The "no network" promise, checked: every socket connection fails in these processes, and both work."""
    guard = tmp_path / "guard"
    guard.mkdir()
    (guard / "sitecustomize.py").write_text(
        "import socket\n"
        "def _refuse(*args, **kwargs):\n"
        "    raise OSError('network used')\n"
        "socket.socket.connect = _refuse\n"
        "socket.socket.connect_ex = _refuse\n"
        "socket.create_connection = _refuse\n"
    )
    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    (articles / "ferry.txt").write_text(
        "Harbour news\n\nThe harbour master said the new ferry to the island sails every morning at seven o'clock.\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "TRANSFORMERS_"))}
    env.update(PYTHONPATH=str(guard), QA_ARTICLES_DIR=str(articles), QA_INDEX_DIR=str(tmp_path / "index"))
    p = subprocess.run([sys.executable, "-m", "qa", "index"], capture_output=True, text=True, env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([sys.executable, "-m", "qa", "ask", "When does the new ferry sail?"], capture_output=True, text=True,
                       env=env, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "seven o'clock" in p.stdout and "network used" not in p.stderr
