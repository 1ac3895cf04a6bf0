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
            for key, label in (("python", "Python start"), ("st", "import sentence_transformers"), ("model", "model load")):
                self.skip("imports", key, label, "s", "skipped with --fake")
            return
        self.embedder()  # the ONNX export is cached before anything is timed
        starts = [run_child([sys.executable, "-c", "pass"])[0] for _ in range(max(3, self.plan.repeats))]
        # The product's path: the CLI module, then the ONNX embedder (onnxruntime, tokenizers, the cached model).
        probe = (
            "import json, sys, time\n"
            "t0 = time.perf_counter()\n"
            "import qa.cli\n"
            "t1 = time.perf_counter()\n"
            "import onnxruntime, tokenizers\n"
            "t2 = time.perf_counter()\n"
            "from qa.embedding import make_embedder\n"
            "e = make_embedder(); e.load()\n"
            "t3 = time.perf_counter()\n"
            "e.embed_query('first question after loading?')\n"
            "t4 = time.perf_counter()\n"
            "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers') if m in sys.modules]\n"
            "print(json.dumps({'qa_cli': t1 - t0, 'ort': t2 - t1, 'model': t3 - t2, 'first_query': t4 - t3, 'heavy': heavy}))\n"
        )
        # The baseline it replaces: torch and sentence-transformers, then the same model on torch.
        baseline = (
            "import json, time\n"
            "t0 = time.perf_counter()\n"
            "import torch\n"
            "t1 = time.perf_counter()\n"
            "import sentence_transformers\n"
            "t2 = time.perf_counter()\n"
            "from qa.embedding import SentenceTransformerEmbedder\n"
            "e = SentenceTransformerEmbedder(); e.load()\n"
            "t3 = time.perf_counter()\n"
            "print(json.dumps({'torch': t1 - t0, 'st': t2 - t1, 'st_model': t3 - t2}))\n"
        )
        runs, base = [], []
        for _ in range(max(1, min(3, self.plan.repeats))):
            for code, into in ((probe, runs), (baseline, base)):
                _, proc = run_child([sys.executable, "-c", code])
                if proc.returncode != 0:
                    raise RuntimeError(proc.stderr[-2000:])
                into.append(json.loads(proc.stdout.strip().splitlines()[-1]))
        m = {k: median([r[k] for r in runs]) for k in runs[0] if k != "heavy"}
        b = {k: median([r[k] for r in base]) for k in base[0]}
        self.details["imports"] = {"python_start_s": starts, "runs": runs, "baseline": base}
        n = f"median of {len(runs)} fresh processes"
        self.add("imports", "python", "Python start (`python -c pass`, wall)", median(starts), "s", note=f"median of {len(starts)}")
        self.add("imports", "qa_cli", "import qa.cli", m["qa_cli"], "s", note=n)
        self.add("imports", "ort", "import onnxruntime, tokenizers", m["ort"], "s")
        self.add("imports", "model", "model load (ONNX Runtime session over the cached export, checksum verified)", m["model"], "s")
        self.add("imports", "first_query", "first question embedding after load", m["first_query"], "s")
        self.add("imports", "heavy", "torch / sentence_transformers / transformers loaded on that path", ", ".join(runs[0]["heavy"]) or "none", "",
                 target="none", met=not runs[0]["heavy"])
        self.add("imports", "torch", "baseline: import torch", b["torch"], "s", note=n)
        self.add("imports", "st", "baseline: import sentence_transformers (after torch)", b["st"], "s")
        self.add("imports", "st_model", "baseline: the same model loaded by sentence-transformers (after imports)", b["st_model"], "s")

    # ------------------------------------------------------------ one-time export

    def run_export(self) -> None:
        """The one-time export into an empty cache, in a fresh process (as a first `make run` does it)."""
        if self.fake:
            self.skip("export", "seconds", "one-time ONNX export", "s", "skipped with --fake")
            return
        from qa.embedding import default_quantization

        tmp = self.cache / "export-cache"
        shutil.rmtree(tmp, ignore_errors=True)
        quantization = default_quantization()
        wall, proc = run_child([sys.executable, "-m", "qa.embedding", "--quantization", quantization], timeout=1800, QA_CACHE_DIR=str(tmp))
        if proc.returncode != 0:
            raise RuntimeError(f"export failed: {proc.stderr.strip()[-2000:]}")
        manifests = sorted(tmp.glob("onnx/*/embedder.json"))
        sizes = {json.loads(p.read_text())["quantization"]: sum(f["bytes"] for f in json.loads(p.read_text())["files"].values()) for p in manifests}
        shutil.rmtree(tmp, ignore_errors=True)
        self.details["export"] = {"wall_s": wall, "bytes": sizes}
        self.add("export", "seconds", f"one-time export of all-MiniLM-L6-v2 to ONNX ({'fp32' if quantization == 'none' else 'fp32, then ' + quantization}), fresh process",
                 wall, "s", note="`python -m qa.embedding` into an empty QA_CACHE_DIR (torch loads only here)")
        for q, size in sorted(sizes.items()):
            self.add("export", f"bytes_{q}", f"cached model ({'fp32' if q == 'none' else q}), model.onnx + tokenizer.json", size / 1e6, "MB")

    # ------------------------------------------------------------ command line

    def run_cli(self) -> None:
        helps = [run_child([sys.executable, "-m", "qa", "--help"])[0] for _ in range(self.plan.repeats)]
        self.add("cli", "help", "`qa --help`, fresh process", median(helps), "s", note=f"median of {len(helps)}")
        # An unknown model is one line at once, with no network and no model library imported.
        wall, proc = run_child([sys.executable, "-m", "qa", "index", "--full", "--model", "nonexistent-model", "--articles", str(ROOT / "articles"),
                                "--index", str(self.cache / "cli-unknown-model")])
        self.add("cli", "unknown_model", "`qa index --full --model nonexistent-model` to its one-line error", wall, "s",
                 target="≤ 3 s", met=wall <= 3.0 and proc.returncode == 1, note=f"exit {proc.returncode}; was 87 s of hub retries")
        empty = self.cache / "cli-empty"
        shutil.rmtree(empty, ignore_errors=True)
        (empty / "articles").mkdir(parents=True)
        wall, proc = run_child([sys.executable, "-m", "qa", "index", "--articles", str(empty / "articles"), "--index", str(empty / "index")])
        self.add("cli", "index_empty", "`qa index` of an empty folder, fresh process (loads no model)", wall, "s", note=f"exit {proc.returncode}")
        if self.fake:
            self.skip("cli", "ask_cold", "`qa ask` cold start to first answer", "s", "skipped with --fake")
            return
        index = self.seed_index()
        # `qa ask` exactly as a user runs it, and beside it the import it no longer needs, in the same run.
        asks, st_imports, rss = [], [], []
        probe = (
            "import sys\n"
            f"sys.argv = ['qa', 'ask', {CLI_QUESTION!r}, '--articles', {str(ROOT / 'articles')!r}, '--index', {str(index)!r}]\n"
            "from qa.cli import main\n"
            "try:\n    main()\nexcept SystemExit as exc:\n    code = exc.code\n"
            "peak = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
            "print('PEAK_KB', peak, file=sys.stderr)\n"
            "sys.exit(code)\n"
        )
        for _ in range(self.plan.repeats):
            wall, proc = run_child([sys.executable, "-m", "qa", "ask", CLI_QUESTION, "--articles", str(ROOT / "articles"), "--index", str(index)])
            if proc.returncode != 0:
                raise RuntimeError(f"qa ask failed: {proc.stderr.strip()}")
            asks.append(wall)
            st_imports.append(run_child([sys.executable, "-c", "import sentence_transformers"])[0])
            _, proc = run_child([sys.executable, "-c", probe])
            rss.append(int(next(l for l in proc.stderr.splitlines() if l.startswith("PEAK_KB")).split()[1]) / 1024)
        ask_s, st_s = median(asks), median(st_imports)
        self.add("cli", "ask_cold", "`qa ask` cold start to first answer (sample index)", ask_s, "s",
                 target="≤ 1.5 s", met=ask_s <= 1.5, note=f"median of {len(asks)}, fresh processes")
        self.add("cli", "st_import", "baseline: `python -c \"import sentence_transformers\"`, same run", st_s, "s", note=f"median of {len(st_imports)}")
        self.add("cli", "ask_ratio", "`qa ask` cold start / `import sentence_transformers`", ask_s / st_s, "×", target="≤ 0.25", met=ask_s / st_s <= 0.25)
        peak = median(rss)
        self.add("cli", "ask_rss", "peak RSS of `qa ask` (VmHWM)", peak, "MB", target="≤ 300 MB", met=peak <= 300, note=f"median of {len(rss)}")
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
        self.details["cli"] = {"help_s": helps, "ask_s": asks, "st_import_s": st_imports, "ask_rss_mb": rss, "index_s": builds}

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
        runs = []  # one launch is noisy (a few ms of scheduling move the first paint): the median of a few
        for _ in range(max(1, min(3, self.plan.repeats))):
            _, proc = run_child([sys.executable, "-m", "tui.measure", "--json"], timeout=900,
                                QA_ARTICLES_DIR=str(ROOT / "articles"), QA_INDEX_DIR=str(index))
            try:
                runs.append(json.loads(proc.stdout.strip().splitlines()[-1]))
            except (ValueError, IndexError):
                for key, label in labels:
                    self.skip("tui", key, label, "ms", f"tui.measure failed (exit {proc.returncode})")
                self.details["tui"] = {"stderr": proc.stderr[-2000:]}
                return
        data = {k: (median([r[k] for r in runs]) if isinstance(v, (int, float)) else v) for k, v in runs[-1].items()}
        self.details["tui"] = {**data, "runs": runs}
        targets = {"first_paint_ms": 500.0, "first_answer_ms": 2500.0}
        for key, label in labels:
            value, limit = data.get(key), targets.get(key)
            self.add("tui", key, label, value, "ms", target=f"≤ {limit:g} ms" if limit else "",
                     met=(value is not None and value <= limit) if limit else None, note=f"median of {len(runs)} launches")
        cpu = data.get("first_paint_cpu_ms")
        if cpu is not None:
            self.add("tui", "first_paint_cpu_ms", "chat app first paint, CPU time (user+sys) of the app's process", cpu, "ms",
                     note="from its interpreter's start; the wall time above adds process spawn and, under load, waiting for a core")
        self.add("tui", "heavy", "torch / sentence_transformers / transformers loaded by the app", ", ".join(data.get("heavy_modules", [])) or "none", "",
                 target="none", met=not data.get("heavy_modules"))


