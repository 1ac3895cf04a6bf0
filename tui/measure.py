"""Figures of the chat app: launch → first paint, launch → first answer (cold), warm answer latency.

    python -m tui.measure --json [--articles DIR] [--index DIR] [--rounds N]

The app is launched in a fresh Python process (so "launch" includes interpreter start-up and imports)
and driven headless by Textual's Pilot at 100x30: the first question is typed at once, before the
model has loaded; then the warm questions are asked one after another. Latency is counted from the
Enter key to the refresh that shows the answer. An index is built first when there is none (untimed).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

QUESTIONS = [
    "Where did the foreign ministers of Russia and Ukraine meet?",
    "Who is Turkey's presidential spokesperson?",
    "Which TV channel interviewed Kalın?",
    "What did Erdoğan and Zelenskyy discuss in their phone call?",
    "When does the Antalya Diplomacy Forum take place?",
    "How many troops did Russia mass near Ukraine?",
    "Which straits did Turkey close to Russian vessels?",
    "What did Turkey sell to Ukraine that angered Moscow?",
    "Who attended the talks in Antalya?",
    "What does Turkey say is needed before peace talks?",
    "What did Kalın say about Moscow's intentions?",
    "Which country hosted the foreign ministers?",
    "Why did Ankara oppose international sanctions?",
    "What is Turkey's stance on the annexation of Crimea?",
    "What did the NATO summit discuss?",
    "Who described the meeting as a good idea?",
    "What did Lavrov confirm?",
    "What are Turkey's ties with Russia?",
    "What was the outcome of the Antalya talks?",
    "Who won the 2022 World Cup?",
]
T0_ENV = "QA_MEASURE_T0"


def _settings(args):
    from qa.config import load_settings

    return load_settings(articles=args.articles, index=args.index)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tui.measure", description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="Print one JSON object.")
    parser.add_argument("--articles", metavar="DIR")
    parser.add_argument("--index", metavar="DIR")
    parser.add_argument("--rounds", type=int, default=1, help="Times the warm questions are asked (default 1; later rounds hit the query cache).")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)

    settings = _settings(args)
    from qa.assistant import Assistant

    if not Assistant(settings).has_index():
        print(f"Building the index of {settings.articles_dir} first (not timed)…", file=sys.stderr)
        Assistant(settings).rebuild()

    command = [sys.executable, "-m", "tui.measure", "--child", "--rounds", str(args.rounds),
               "--articles", str(settings.articles_dir), "--index", str(settings.index_dir)]
    env = dict(os.environ)
    env[T0_ENV] = repr(time.time())
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        return done.returncode
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    if args.json:
        print(json.dumps(figures))
    else:
        print(f"launch → first paint:          {figures['first_paint_ms']:8.0f} ms  (CPU {figures['first_paint_cpu_ms']:.0f} ms)")
        print(f"launch → first answer (cold):  {figures['first_answer_ms']:8.0f} ms")
        print(f"answer latency, warm (p50):    {figures['answer_ms_p50']:8.1f} ms  (p90 {figures['answer_ms_p90']:.1f}, n={figures['answers']})")
    return 0


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _child(args) -> int:
    t0 = float(os.environ.get(T0_ENV) or time.time())
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # as run_app does
    import asyncio

    from tui.app import QAApp

    settings = _settings(args)

    class Measured(QAApp):
        """Signals each shown answer, so the driver waits without polling (polling steals CPU from the app)."""

        shown: asyncio.Event

        def _painted(self) -> None:
            self.timings.setdefault("first_paint_cpu", _cpu_seconds())  # this process's CPU, start-up included
            super()._painted()

        def _answer_shown(self, turn) -> None:
            super()._answer_shown(turn)
            self.shown.set()

        def _answer_failed(self, turn, exc) -> None:
            super()._answer_failed(turn, exc)
            self.shown.set()

    async def run() -> dict:
        app = Measured(settings)
        app.shown = asyncio.Event()
        async with app.run_test(size=(100, 30)) as pilot:
            async def ask(question: str) -> None:
                app.shown.clear()
                app.chat.query_one("#question").value = question
                await pilot.press("enter")
                await app.shown.wait()
                if app.turns[-1].state == "error":
                    raise SystemExit(f"The app could not answer: {app.turns[-1].error}")

            await ask(QUESTIONS[0])  # typed at launch: answered once the model is loaded
            for _ in range(args.rounds):
                for question in QUESTIONS[1:]:
                    app.conversation.clear()  # each question on its own, not as a follow-up
                    await ask(question)
            warm = sorted(app.answer_latencies[1:])
            return {
                "first_paint_ms": round((app.timings["first_paint"] - t0) * 1000, 1),
                "first_paint_cpu_ms": round(app.timings["first_paint_cpu"] * 1000, 1),
                "first_answer_ms": round((app.timings["first_answer"] - t0) * 1000, 1),
                "answer_ms_p50": round(statistics.median(warm) * 1000, 1),
                "answer_ms_p90": round(warm[int(0.9 * (len(warm) - 1))] * 1000, 1),
                "answers": len(warm),
                "headless_size": "100x30",
                # The answering path must not need these (the ONNX embedder runs without them).
                "heavy_modules": sorted(m for m in ("torch", "sentence_transformers", "transformers") if m in sys.modules),
            }

    print(json.dumps(asyncio.run(run())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
