"""SVG snapshots of the chat app (pytest-textual-snapshot, Textual pinned in pyproject.toml).

The fake embedder keeps answers and scores identical on every machine; the working folder is the
test's tmp folder, so the paths shown are relative ("articles/…") and do not vary per run.
Update after a deliberate change: pytest tests/test_tui_snapshots.py --snapshot-update
"""

from __future__ import annotations

import pytest

from qa.assistant import Assistant
from tests.tui_helpers import make_app, settle


@pytest.fixture
def app(seeded, fake, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Assistant(seeded, embedder=fake).rebuild()
    return make_app(seeded, fake)


async def _ready(pilot):
    app = pilot.app
    await settle(app, pilot)
    app.chat.query_one("#question").cursor_blink = False


async def _answered(pilot):
    await _ready(pilot)
    app = pilot.app
    app.chat.query_one("#question").value = "Where did the foreign ministers of Russia and Ukraine meet?"
    await pilot.press("enter")
    await settle(app, pilot)


def test_empty_start(app, snap_compare):
    assert snap_compare(app, terminal_size=(80, 24), run_before=_ready)


def test_answer_with_sources(app, snap_compare):
    assert snap_compare(app, terminal_size=(100, 30), run_before=_answered)


def test_answer_with_sources_light_80x24(app, snap_compare):
    async def light(pilot):
        pilot.app.theme = "textual-light"
        await _answered(pilot)

    assert snap_compare(app, terminal_size=(80, 24), run_before=light)


def test_source_viewer(app, snap_compare):
    async def viewer(pilot):
        await _answered(pilot)
        await pilot.press("tab", "enter")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=viewer)


def test_rebuild_in_progress(app, snap_compare):
    async def rebuilding(pilot):
        await _ready(pilot)
        app = pilot.app
        # Frozen mid-rebuild: the progress row as the worker's callbacks leave it.
        app._progress_start()
        app.show_progress("read", 5, 5)
        app.show_progress("embed", 40, 83)
        await pilot.pause()

    assert snap_compare(app, terminal_size=(100, 30), run_before=rebuilding)
