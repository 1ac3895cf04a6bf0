"""`qa eval questions` and `qa eval beir`: quality figures a person can reproduce on their own articles.

The measuring itself lives in qa/evaluation.py; this module only parses options and prints.
"""

from __future__ import annotations

import json
from pathlib import Path

import click

from .config import Settings, load_settings

_RETRIEVERS = click.Choice(["dense", "keyword", "hybrid"])
_FUSIONS = click.Choice(["rrf", "convex"])


def _retrieval_options(f):
    f = click.option("--alpha", type=click.FloatRange(0.0, 1.0), default=None, help="Weight of dense scores in convex fusion (default: the Retriever's).")(f)
    f = click.option("--fusion", type=_FUSIONS, default=None, help="How hybrid fuses dense and keyword scores (default: the Retriever's).")(f)
    f = click.option("--retriever", "mode", type=_RETRIEVERS, default="hybrid", show_default=True, help="Which retriever to measure.")(f)
    return f


def _settings(ctx: click.Context, **given) -> Settings:
    root = ctx.find_root().params
    return load_settings(
        articles=given.get("articles_dir") or root.get("articles_dir"),
        index=given.get("index_dir") or root.get("index_dir"),
        model=given.get("model") or root.get("model"),
        store=ctx.meta.get("store"),
    )


def _embedder(settings: Settings):
    """The real model (tests replace this with the fake embedder)."""
    from .embedding import embedder_for

    return embedder_for(settings)


def _fmt(value) -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


@click.group("eval")
def eval_group() -> None:
    """Measure answer quality (a question set) or retrieval quality (a BEIR benchmark)."""


@eval_group.command("questions")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--articles", "articles_dir", metavar="DIR", help="Articles folder (default: articles/ or $QA_ARTICLES_DIR).")
@click.option("--index", "index_dir", metavar="DIR", help="Index folder, built if missing (default: index/ or $QA_INDEX_DIR).")
@click.option("--model", metavar="NAME", help="A sentence-transformers model folder, or a name in the Hugging Face cache (default: the packaged all-MiniLM-L6-v2, or $QA_MODEL).")
@_retrieval_options
@click.option("--typos", "typo_seed", type=int, default=None, metavar="SEED", help="Ask each question with one typo (seeded).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def questions(ctx, file, articles_dir, index_dir, model, mode, fusion, alpha, typo_seed, as_json) -> None:
    """Ask every question of FILE.jsonl as the chat would and score the answers."""
    from .embedding import terminal_progress
    from .evaluation import RetrievalConfig, ask_items, load_question_set, make_assistant, summarize_questions, with_typos

    items = load_question_set(file)
    if typo_seed is not None:
        items = with_typos(items, typo_seed)
    settings = _settings(ctx, articles_dir=articles_dir, index_dir=index_dir, model=model)
    assistant = make_assistant(settings, _embedder(settings), RetrievalConfig(mode, fusion, alpha))
    try:
        _ensure_index(assistant, quiet=as_json)
        outcomes = ask_items(assistant, items, progress=None if as_json else terminal_progress("Asking"))
    finally:
        assistant.close()
    report = summarize_questions(outcomes)
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    how = mode + (f", {fusion} fusion" if fusion else "") + (f", alpha {alpha:g}" if alpha is not None else "")
    click.echo(f"{file}: {report['questions']} scored questions ({report['answerable']} answerable, "
               f"{report['unanswerable']} unanswerable); {how} retrieval")
    click.echo()
    for key in ("source_hit@1", "source_hit@3", "source_hit@5", "mrr", "answer_contains",
                "refusal_recall", "refusal_precision", "false_refusal_rate"):
        click.echo(f"  {key:20s} {_fmt(report[key])}")
    click.echo()
    failures = report["failures"]
    click.echo(f"Failures ({len(failures)}):" if failures else "No failures.")
    for f in failures:
        click.echo(f"  {f['id']}: {f['question']}")
        click.echo(f"      expected: {f['expected']}")
        click.echo(f"      got:      {f['got']}")


def _squad_part(data, folder: Path, part: str):
    """Only the documents of one part of the reader's split, and the questions asked about them."""
    from dataclasses import replace

    from .evaluation import BadEvalData
    from .reader import squad

    try:
        docs = squad.query_docs(folder)
        corpus = {d: v for d, v in data.corpus.items() if squad.in_part(d, part)}
    except (OSError, ValueError) as exc:
        raise BadEvalData(f"--part needs SQuAD 2.0 doc ids (squad20dev_AAA_PP) and answers.jsonl ({exc}).", "Leave out --part.") from None
    keep = [q for q in data.queries if docs.get(q) in corpus]
    return replace(data, corpus=corpus, queries={q: data.queries[q] for q in keep}, qrels={q: data.qrels[q] for q in keep})


def _with_typos(data, seed: int):
    import random
    from dataclasses import replace

    from .reader.typos import add_typo

    rng = random.Random(seed)
    return replace(data, queries={q: add_typo(t, rng) for q, t in data.queries.items()})


def _ensure_index(assistant, quiet: bool) -> None:
    """Build the index when it is missing, update it when the articles changed since."""
    if assistant.has_index():
        st = assistant.status()
        if not (st.added or st.changed or st.removed):
            return
        what = "Updating"
    else:
        what = "Building"
    if not quiet:
        click.echo(f"{what} the index of {assistant.settings.articles_dir} in {assistant.settings.index_dir}…", err=True)
    assistant.rebuild()


@eval_group.command("beir")
@click.argument("folder", type=click.Path(file_okay=False, path_type=Path))
@click.option("--split", default="test", show_default=True, help="Which qrels/SPLIT.tsv to score.")
@_retrieval_options
@click.option("--model", metavar="NAME", help="A sentence-transformers model folder, or a name in the Hugging Face cache (default: the packaged all-MiniLM-L6-v2, or $QA_MODEL).")
@click.option("--limit", type=click.IntRange(1), default=None, help="Only the first N judged queries (quick runs).")
@click.option("--answers", is_flag=True, help="Also ask each answerable query (answers.jsonl) and report answer_contains.")
@click.option("--work-dir", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Keep the corpus files and index here and reuse them next time (default: a temporary folder, removed after).")
@click.option("--part", type=click.Choice(["all", "train", "held-out", "dev", "test"]), default="all", show_default=True,
              help="SQuAD 2.0 only: the documents and questions of one part of the reader's split by article "
                   "(held-out = dev + test; the reader never trained on them).")
@click.option("--typos", "typo_seed", type=int, default=None, metavar="SEED", help="Ask each query with one typo (seeded).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def beir(ctx, folder, split, mode, fusion, alpha, model, limit, answers, work_dir, part, typo_seed, as_json) -> None:
    """Index a BEIR-layout corpus (each document one article) and score retrieval on its queries."""
    import tempfile

    from .embedding import terminal_progress
    from .beir import RetrievalConfig, beir_answers, beir_report, build_beir_index, load_beir, make_assistant, retrieve_beir

    data = load_beir(folder, split, with_answers=answers)
    if part != "all":
        data = _squad_part(data, folder, part)
    if typo_seed is not None:
        data = _with_typos(data, typo_seed)
    query_ids = list(data.queries)[:limit] if limit else list(data.queries)
    config = RetrievalConfig(mode, fusion, alpha)
    settings = _settings(ctx, model=model)
    embedder = _embedder(settings)
    temporary = None
    if work_dir is None:
        temporary = tempfile.TemporaryDirectory(prefix="qa-eval-")
        work_dir = Path(temporary.name)
    try:
        settings = settings.with_(articles_dir=(work_dir / "articles").resolve(), index_dir=(work_dir / "index").resolve())
        if settings.store == "milvus":
            # Its own collections: the corpus never lands in the user's index; embedded unless a server is named.
            import os

            uri = os.environ.get("QA_MILVUS_URI") or str(work_dir.resolve() / "index" / "milvus.db")
            settings = settings.with_(milvus_uri=uri, milvus_collection=f"{settings.milvus_collection}_eval")
        bar = None if as_json else terminal_progress("Indexing")
        if not as_json:
            click.echo(f"Indexing {len(data.corpus)} documents of {folder} in {work_dir}…", err=True)
        source_to_doc, seconds = build_beir_index(data, settings, embedder, progress=bar)
        assistant = make_assistant(settings, embedder, config)
        try:
            index = assistant.index()
            rankings, times = retrieve_beir(data, index, embedder, source_to_doc, config, query_ids,
                                            progress=None if as_json else terminal_progress("Querying"))
            report = beir_report(data, len(data.corpus), rankings, times, seconds)
            if answers:
                report.update(beir_answers(assistant, data, query_ids, progress=None if as_json else terminal_progress("Answering")))
        finally:
            assistant.close()
    finally:
        if temporary is not None:
            temporary.cleanup()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2))
        return
    how = mode + (f", {fusion} fusion" if fusion else "") + (f", alpha {alpha:g}" if alpha is not None else "")
    click.echo(f"{report['dataset']} ({split}): {report['docs']} documents, {report['queries']} judged queries; {how} retrieval")
    click.echo()
    for key, value in report.items():
        if key not in ("dataset", "docs", "queries"):
            click.echo(f"  {key:20s} {_fmt(value)}")
