"""The benchmark table (docs/benchmarks.md), generated from bench/results.json (never typed by hand)."""

from __future__ import annotations

import re

BEGIN = "<!-- bench:begin -->"
END = "<!-- bench:end -->"
SECTION_TITLES = {
    "imports": "Start-up",
    "export": "One-time ONNX export",
    "build": "Index build",
    "incremental": "Incremental rebuilds (10,000 articles)",
    "ask": "Warm answer latency (`Assistant.ask`)",
    "cli": "Command line",
    "tui": "Chat app",
    "formats": "Reading article files (extraction and splitting)",
}


def format_value(value, unit: str) -> str:
    """A number with its unit, rounded to what the measurement can support."""
    if value is None:
        return "not measured"
    if isinstance(value, str):
        return value
    if unit == "×":
        return f"{value:.2f}×"
    if unit in ("passages", "files", "passages embedded"):
        return f"{int(value):,} {unit}"
    if abs(value) >= 100:
        text = f"{value:,.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    elif abs(value) >= 1:
        text = f"{value:.2f}"
    else:
        text = f"{value:.3f}"
    return f"{text} {unit}"


def machine_line(machine: dict) -> str:
    parts = [
        f"{machine.get('cores', '?')} cores",
        str(machine.get("cpu", "unknown CPU")),
        f"{machine.get('memory_gb', '?')} GB RAM",
        f"Python {machine.get('python', '?')}",
        f"torch {machine.get('torch', '?')}",
        f"onnxruntime {machine.get('onnxruntime', '?')}",
        f"sentence-transformers {machine.get('sentence_transformers', '?')}",
        f"faiss {machine.get('faiss', '?')}",
    ]
    return ", ".join(parts)


def render_table(results: dict) -> str:
    """Markdown: the machine, the command, then one row per figure grouped by section."""
    machine = results.get("machine", {})
    run = results.get("run", {})
    dates = sorted(set(run.get("section_dates", {}).values())) or [run.get("date", "?")]
    when = dates[0] if len(dates) == 1 else f"{dates[0]} to {dates[-1]} (areas re-run with `--only` at different times)"
    lines = [
        f"Measured {when} on {machine_line(machine)}"
        + (" (quick run: small sizes)" if run.get("quick") else "") + ".",
    ]
    if machine.get("note"):
        lines.append(f"{machine['note']}")
    lines += ["", "| Area | Figure | Value | Target | Notes |", "|---|---|---|---|---|"]
    order = list(SECTION_TITLES)
    figures = sorted(results.get("figures", []), key=lambda f: order.index(f["section"]) if f["section"] in order else len(order))
    shown = None
    for fig in figures:
        area = SECTION_TITLES.get(fig["section"], fig["section"]) if fig["section"] != shown else ""
        shown = fig["section"]
        value = format_value(fig.get("value"), fig.get("unit", ""))
        target = fig.get("target") or ""
        if target and fig.get("met") is not None:
            target += " ✓" if fig["met"] else " ✗ missed"
        cells = (area, fig["label"], value, target, fig.get("note") or "")
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines.append("")
    lines.append("Reproduce with `make bench` (figures in `bench/results.json`; `--quick` for small sizes, `--only SECTION` for one area).")
    return "\n".join(lines)


def _cell(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def update_readme(readme: str, table: str) -> str:
    """Replace what lies between the markers; add a Benchmarks section with them if there is none."""
    block = f"{BEGIN}\n{table}\n{END}"
    if BEGIN in readme and END in readme:
        pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END), re.S)
        return pattern.sub(lambda _m: block, readme, count=1)
    section = f"\n## Benchmarks\n\n```sh\nmake bench    # measures and rewrites this table (about 20 minutes from scratch)\n```\n\n{block}\n"
    return readme.rstrip("\n") + "\n" + section
