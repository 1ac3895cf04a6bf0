"""The benchmark script: its README table generator, and a quick end-to-end run with the fake embedder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.table import BEGIN, END, render_table, update_readme

ROOT = Path(__file__).resolve().parent.parent

RESULTS = {
    "machine": {"cores": 2, "cpu": "Test CPU 9000", "memory_gb": 8, "python": "3.11.9", "torch": "2.13.0",
                "sentence_transformers": "5.0.0", "faiss": "1.9.0", "note": "load 2.0: shared machine."},
    "run": {"date": "2026-01-01 10:00 UTC", "quick": False},
    "figures": [
        {"section": "ask", "key": "synthetic100000.p50", "label": "p50 at 100k passages (synthetic)", "value": 23.456, "unit": "ms",
         "target": "p50 ≤ 30 ms", "met": True, "note": ""},
        {"section": "imports", "key": "torch", "label": "import torch", "value": 2.5, "unit": "s", "target": "", "met": None, "note": ""},
        {"section": "build", "key": "scifact.ratio", "label": "indexer / plain encode", "value": 0.934, "unit": "×", "target": "", "met": None, "note": ""},
        {"section": "build", "key": "scifact.qa", "label": "index build", "value": 41.2, "unit": "passages/s", "target": "", "met": None, "note": ""},
        {"section": "incremental", "key": "rename_embedded", "label": "embedded after renaming 1,000 files", "value": 0,
         "unit": "passages embedded", "target": "0", "met": True, "note": ""},
        {"section": "ask", "key": "synthetic1000000.p50", "label": "p50 at 1M | synthetic", "value": 61.0, "unit": "ms",
         "target": "p50 ≤ 50 ms", "met": False, "note": ""},
        {"section": "tui", "key": "first_paint_ms", "label": "chat app first paint", "value": None, "unit": "ms", "target": "", "met": None,
         "note": "tui/measure.py not present"},
    ],
}


def test_table_has_every_figure_with_its_unit_and_the_machine():
    table = render_table(RESULTS)
    assert "2 cores, Test CPU 9000" in table and "torch 2.13.0" in table and "Python 3.11.9" in table
    assert "shared machine" in table
    for text in ("23.5 ms", "2.50 s", "0.93×", "41.2 passages/s", "0 passages embedded", "61.0 ms"):
        assert text in table
    assert "| not measured |" in table and "tui/measure.py not present" in table
    assert "✓" in table and "✗ missed" in table
    # A "|" inside a label must not break the Markdown row.
    assert "1M \\| synthetic" in table
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 1 + len(RESULTS["figures"])
    # Sections appear in pipeline order, imports first.
    assert table.index("import torch") < table.index("index build") < table.index("p50 at 100k")
    assert "make bench" in table


def test_readme_markers_are_replaced_and_the_rest_kept():
    readme = f"# Title\n\nIntro.\n\n## Benchmarks\n\n{BEGIN}\nold table\n{END}\n\n## After\n\nkept\n"
    updated = update_readme(readme, render_table(RESULTS))
    assert "old table" not in updated
    assert updated.startswith("# Title\n\nIntro.\n") and updated.endswith("## After\n\nkept\n")
    assert updated.count(BEGIN) == 1 and updated.count(END) == 1
    assert "23.5 ms" in updated
    # Regenerating is stable.
    assert update_readme(updated, render_table(RESULTS)) == updated


def test_readme_without_markers_gets_a_benchmarks_section():
    updated = update_readme("# Title\n\nText.\n", render_table(RESULTS))
    assert "## Benchmarks" in updated and BEGIN in updated and END in updated and "make bench" in updated
    assert updated.startswith("# Title\n\nText.\n")


def _tiny_scifact(folder: Path) -> Path:
    """A small corpus in SciFact's BEIR layout, so the run needs nothing outside the repository."""
    if not (folder / "corpus.jsonl").exists():
        folder.mkdir(parents=True)
        topics = ["protein folding", "bone density", "gene regulation", "immune response", "cell division", "drug trials"]
        with open(folder / "corpus.jsonl", "w", encoding="utf-8") as fh:
            for i in range(120):
                topic = topics[i % len(topics)]
                text = " ".join(f"Study {i} sentence {j} reports findings about {topic} in cohort {i * 7 + j}." for j in range(6))
                fh.write(json.dumps({"_id": str(1000 + i), "title": f"Findings on {topic}, report {i}", "text": text}) + "\n")
        with open(folder / "queries.jsonl", "w", encoding="utf-8") as fh:
            for i, topic in enumerate(topics):
                fh.write(json.dumps({"_id": str(i), "text": f"What is known about {topic}?"}) + "\n")
    return folder


def _bench(tmp_path, *extra: str) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "run.py"), "--quick", "--fake", "--cache", str(tmp_path / "cache"),
         "--scifact", str(_tiny_scifact(tmp_path / "scifact")),
         "--out", str(tmp_path / "results.json"), "--readme", str(tmp_path / "README.md"), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return proc


def test_quick_run_end_to_end_with_the_fake_embedder(tmp_path):
    out, readme = tmp_path / "results.json", tmp_path / "README.md"
    readme.write_text(f"# Project\n\n## Benchmarks\n\n{BEGIN}\n{END}\n", encoding="utf-8")
    proc = _bench(tmp_path)
    results = json.loads(out.read_text(encoding="utf-8"))
    assert results["machine"]["cores"] and results["machine"]["cpu"]
    keys = {f["key"]: f for f in results["figures"]}
    assert keys["rename_embedded"]["value"] == 0
    assert keys["add_embedded"]["value"].endswith("(exact)")
    assert keys["synthetic5000.p50"]["unit"] == "ms" and keys["synthetic5000.p50"]["value"] > 0
    assert keys["synthetic5000.rss"]["unit"] == "MB"
    assert all(f["unit"] or isinstance(f["value"], str) for f in results["figures"])
    for kind in ("text", "html", "pdf", "docx"):  # reading each kind of file, beside plain text
        assert keys[f"{kind}_files_s"]["unit"] == "files/s" and keys[f"{kind}_files_s"]["value"] > 0
    assert keys["pdf_cached_files_s"]["value"] > keys["pdf_files_s"]["value"]
    text = readme.read_text(encoding="utf-8")
    assert "p50 at 5k passages" in text and " ms" in text and "passages embedded" in text
    # The run prints every figure as it goes.
    assert "rename" in proc.stdout

    # --only re-measures one section and keeps the other figures.
    before = {f["key"] for f in results["figures"]}
    _bench(tmp_path, "--only", "cli")
    again = json.loads(out.read_text(encoding="utf-8"))
    assert {f["key"] for f in again["figures"]} == before
    assert [f["section"] for f in again["figures"]].count("cli") == [f["section"] for f in results["figures"]].count("cli")
