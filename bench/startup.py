"""Start-up figures: imports, the command line in fresh processes, the chat app's first paint and answer."""

from __future__ import annotations

import json
import shutil
import sys

from bench.common import CLI_QUESTION, ROOT, median, run_child


class StartupArea:
    # ------------------------------------------------------------ imports

    def run_imports(self) -> None:
        if self.fake:
            for key, label in (("python", "Python start"), ("torch", "import torch"), ("st", "import sentence_transformers"), ("model", "model load")):
                self.skip("imports", key, label, "s", "skipped with --fake")
            return
        starts = [run_child([sys.executable, "-c", "pass"])[0] for _ in range(max(3, self.plan.repeats))]
        probe = (
            "import json, time\n"
            "t0 = time.perf_counter()\n"
            "import qa.cli\n"
            "t1 = time.perf_counter()\n"
            "import torch\n"
            "t2 = time.perf_counter()\n"
            "import sentence_transformers\n"
            "t3 = time.perf_counter()\n"
            "from qa.embedding import SentenceTransformerEmbedder\n"
            "e = SentenceTransformerEmbedder(); e.load()\n"
            "t4 = time.perf_counter()\n"
            "e.embed_query('first question after loading?')\n"
            "t5 = time.perf_counter()\n"
            "print(json.dumps({'qa_cli': t1 - t0, 'torch': t2 - t1, 'st': t3 - t2, 'model': t4 - t3, 'first_query': t5 - t4}))\n"
        )
        runs = []
        for _ in range(max(1, min(3, self.plan.repeats))):
            _, proc = run_child([sys.executable, "-c", probe])
            if proc.returncode != 0:
                raise RuntimeError(proc.stderr[-2000:])
            runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        m = {k: median([r[k] for r in runs]) for k in runs[0]}
        self.details["imports"] = {"python_start_s": starts, "runs": runs}
        n = f"median of {len(runs)} fresh processes"
        self.add("imports", "python", "Python start (`python -c pass`, wall)", median(starts), "s", note=f"median of {len(starts)}")
        self.add("imports", "qa_cli", "import qa.cli (no torch)", m["qa_cli"], "s")
        self.add("imports", "torch", "import torch", m["torch"], "s", note=n)
        self.add("imports", "st", "import sentence_transformers (after torch)", m["st"], "s")
        self.add("imports", "model", "model load (all-MiniLM-L6-v2, after imports)", m["model"], "s")
        self.add("imports", "first_query", "first question embedding after load", m["first_query"], "s")

    # ------------------------------------------------------------ command line

    def run_cli(self) -> None:
        helps = [run_child([sys.executable, "-m", "qa", "--help"])[0] for _ in range(self.plan.repeats)]
        self.add("cli", "help", "`qa --help`, fresh process", median(helps), "s", note=f"median of {len(helps)}")
        if self.fake:
            self.skip("cli", "ask_cold", "`qa ask` cold start to first answer", "s", "skipped with --fake")
            return
        index = self.seed_index()
        asks = []
        for _ in range(self.plan.repeats):
            wall, proc = run_child([sys.executable, "-m", "qa", "ask", CLI_QUESTION, "--articles", str(ROOT / "articles"), "--index", str(index)])
            if proc.returncode != 0:
                raise RuntimeError(f"qa ask failed: {proc.stderr.strip()}")
            asks.append(wall)
        self.add("cli", "ask_cold", "`qa ask` cold start to first answer (sample index)", median(asks), "s", note=f"median of {len(asks)}")
        builds = []
        for _ in range(max(1, min(3, self.plan.repeats))):
            tmp = self.cache / "cli-index"
            shutil.rmtree(tmp, ignore_errors=True)
            wall, proc = run_child([sys.executable, "-m", "qa", "index", "--full", "--articles", str(ROOT / "articles"), "--index", str(tmp)])
            if proc.returncode != 0:
                raise RuntimeError(f"qa index failed: {proc.stderr.strip()}")
            builds.append(wall)
        shutil.rmtree(self.cache / "cli-index", ignore_errors=True)
        self.add("cli", "index_cold", "`qa index --full` on the sample articles, fresh process", median(builds), "s", note=f"median of {len(builds)}")
        self.details["cli"] = {"help_s": helps, "ask_s": asks, "index_s": builds}

    # ------------------------------------------------------------ chat app

    def run_tui(self) -> None:
        labels = (("first_paint_ms", "chat app first paint"), ("first_answer_ms", "chat app first answer"), ("answer_ms_p50", "chat app answer p50"))
        if not (ROOT / "tui" / "measure.py").exists():
            for key, label in labels:
                self.skip("tui", key, label, "ms", "tui/measure.py not present in this checkout")
            return
        if self.fake:
            for key, label in labels:
                self.skip("tui", key, label, "ms", "skipped with --fake")
            return
        index = self.seed_index()
        _, proc = run_child([sys.executable, "-m", "tui.measure", "--json"], timeout=900,
                            QA_ARTICLES_DIR=str(ROOT / "articles"), QA_INDEX_DIR=str(index))
        try:
            data = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            for key, label in labels:
                self.skip("tui", key, label, "ms", f"tui.measure failed (exit {proc.returncode})")
            self.details["tui"] = {"stderr": proc.stderr[-2000:]}
            return
        self.details["tui"] = data
        for key, label in labels:
            self.add("tui", key, label, data.get(key), "ms")


