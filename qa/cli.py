"""The `qa` command. Errors are translated here, once: a one-line message and an exit code.

Exit codes: 0 ok (also when a reader such as `head` closes the pipe early); 1 a problem the user can fix
(message says what to do); 2 bad usage.
"""

from __future__ import annotations

import json
import os
import re
import sys
import traceback
from pathlib import Path

import click

from .config import Settings, debug_enabled, load_settings, require_articles_dir
from .errors import NoArticles, QAError


class _Group(click.Group):
    """Translates errors from every subcommand at one place."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # `qa ask … | head -1`: the reader has what it wanted. Nothing more is written, and the
            # interpreter's final flush must not complain either.
            _quiet_stdout()
            ctx.exit(0)
        except QAError as exc:
            if debug_enabled():
                raise
            click.echo(f"Error: {exc.message}" + (f" {exc.hint}" if exc.hint else ""), err=True)
            ctx.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:  # the edge: anything unexpected becomes one line, not a traceback
            if debug_enabled():
                raise
            click.echo(f"Error: unexpected {type(exc).__name__}: {exc}".splitlines()[0] + " (set QA_DEBUG=1 for details)", err=True)
            ctx.exit(1)


def _remember_store(ctx: click.Context, _param, value):
    if value:
        ctx.meta["store"] = value  # ctx.meta is shared by the group and its subcommands
    return value


def _quiet_stdout() -> None:
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. a test runner's buffer)
        pass


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _paths(f):
    f = click.option("--index", "index_dir", metavar="DIR", help="Index folder (default: index/ or $QA_INDEX_DIR).")(f)
    f = click.option("--articles", "articles_dir", metavar="DIR", help="Articles folder (default: articles/ or $QA_ARTICLES_DIR).")(f)
    f = click.option("--store", type=click.Choice(["faiss", "milvus"]), default=None, expose_value=False,
                     callback=_remember_store, help="Where the index lives: faiss (files in the index folder, default) or milvus ($QA_MILVUS_URI); or $QA_STORE.")(f)
    f = click.option("--model", metavar="NAME", help="A sentence-transformers model folder, or a name in the Hugging Face cache (default: the packaged all-MiniLM-L6-v2, or $QA_MODEL).")(f)
    return f


def _settings(ctx: click.Context, articles_dir, index_dir, model, store=None) -> Settings:
    parent = ctx.find_root().params
    return load_settings(
        articles=articles_dir or parent.get("articles_dir"),
        index=index_dir or parent.get("index_dir"),
        model=model or parent.get("model"),
        store=store or ctx.meta.get("store"),
    )


def _assistant(settings: Settings):
    from .assistant import Assistant

    return Assistant(settings)


@click.group(cls=_Group, invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@_paths
@click.pass_context
def cli(ctx: click.Context, articles_dir, index_dir, model) -> None:
    """Ask questions about a folder of articles; every answer cites file and lines.

    With no command, opens the chat app.
    """
    if ctx.invoked_subcommand is None:
        ctx.invoke(chat)


@cli.command()
@_paths
@click.option("--full", is_flag=True, help="Rebuild from scratch instead of updating.")
@click.option("--json", "as_json", is_flag=True, help="Print the report as one JSON object.")
@click.option("--watch", is_flag=True, help="Keep running; update within seconds of changes. Ctrl-C stops.")
@click.option("--compact", is_flag=True, help="Merge the index's segments and drop deleted vectors (no re-embedding), then update.")
@click.pass_context
def index(ctx, articles_dir, index_dir, model, full, as_json, watch, compact) -> None:
    """Build or update the index of the articles folder."""
    from .assistant import supported_kinds
    from .documents import discover
    from .progress import build_progress

    settings = _settings(ctx, articles_dir, index_dir, model)
    require_articles_dir(settings)
    if compact and not full:
        from .indexer import compact_index

        done = compact_index(settings)
        if not as_json:
            click.echo(f"Compacted the index ({done['segments_before'] or '?'} segments, {done['tombstones_before'] or 0} deleted vectors dropped) in {done['seconds']:.2f} s.")
    assistant = _assistant(settings)
    # Counted before any model loads: an empty folder is said at once, not after the model's start-up.
    entries, skipped = discover(settings.articles_dir, settings.max_file_bytes)
    if not entries and not watch and assistant.indexed_files() == 0:
        why = f" ({_plural(len(skipped), 'file')} skipped, e.g. {skipped[0].path}: {skipped[0].reason})" if skipped else ""
        raise NoArticles(f"No {supported_kinds()} files found in {settings.articles_dir}{why}: nothing to index.",
                         "Put articles in it, or pass another folder with --articles DIR.")
    progress = build_progress()
    try:
        report = assistant.rebuild(full=full, progress=progress)
    finally:
        progress.close()
    _print_report(report, as_json, settings)
    if watch:
        from .watch import watch_folder

        click.echo(f"Watching {settings.articles_dir} for changes (Ctrl-C to stop)…", err=True)
        try:
            watch_folder(assistant, on_report=lambda r: _print_report(r, as_json, settings, brief=True))
        except KeyboardInterrupt:
            click.echo("Stopped watching.", err=True)


_HAS_REMEDY = re.compile(r"\bto (?:index|include) it\b|\bneeds OCR\b")


def _print_report(report, as_json: bool, settings: Settings, brief: bool = False) -> None:
    from .text import strip_controls

    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    parts = [f"{len(report.added)} added", f"{len(report.changed)} changed", f"{len(report.removed)} removed",
             f"{len(report.renamed)} renamed", f"{report.unchanged} unchanged"]
    if brief:
        click.echo(f"Index updated: {', '.join(parts)}; {_plural(report.embedded, 'passage')} embedded, {report.passages} in index ({report.seconds:.2f} s).")
        return
    click.echo(f"Indexed {settings.articles_dir}")
    # The removed files are no longer among report.files: listed after, so the parts add up to the count.
    kept = [p for p in parts if not p.endswith(" removed")]
    gone = f"; {len(report.removed)} removed" if report.removed else ""
    click.echo(f"  files:    {report.files} in the index ({', '.join(kept)}){gone}")
    click.echo(f"  passages: {report.passages} in the index, {report.embedded} embedded now")
    for s in report.skipped:
        click.echo(f"  skipped:  {strip_controls(s.path)}: {s.reason}")
    for w in report.warnings:
        click.echo(f"  warning:  {strip_controls(w.path)}: {w.reason}")
    click.echo(f"  time:     {report.seconds:.2f} s")


@cli.command()
@_paths
@click.argument("question", nargs=-1, required=True)
@click.option("-k", "k", type=click.IntRange(1, 50), default=None,
              help="Passages to retrieve (default 5); the ones not quoted are listed under their own heading.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--since", metavar="DATE", help="Only articles dated on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only articles dated on or before DATE (YYYY-MM-DD).")
@click.option("--include-undated", is_flag=True, help="With --since/--until: search articles without a date too.")
@click.pass_context
def ask(ctx, articles_dir, index_dir, model, question, k, as_json, since, until, include_undated) -> None:
    """Answer QUESTION from the indexed articles, with numbered citations.

    Scores are how close a passage is to the question in meaning (cosine similarity, at most 1.00);
    they rank passages and are not probabilities.
    """
    from .assistant import require_index, validate_question
    from .cli_ask import print_answer

    settings = _settings(ctx, articles_dir, index_dir, model)
    text = validate_question(" ".join(question))
    since, until = _date(since, "--since"), _date(until, "--until")
    if since and until and since > until:
        raise click.BadParameter(f"--since {since} is after --until {until}: no date could match.", param_hint="--since/--until")
    assistant = _assistant(settings)
    require_index(assistant)
    from .embedding import preload

    preload(assistant.embedder)  # the model loads while the index opens
    answer = assistant.ask(text, k=k, since=since, until=until, include_undated=include_undated)
    dates = assistant.date_coverage(since, until) if (since or until) else None
    print_answer(answer, as_json=as_json, list_retrieved=k is not None, dates=dates, since=since, until=until,
                 include_undated=include_undated)


def _date(value: str | None, flag: str) -> str | None:
    if not value:
        return None
    from .datefilter import parse_day

    try:
        return parse_day(value)
    except ValueError as e:
        raise click.BadParameter(str(e), param_hint=flag) from None


_LINES = re.compile(r"^(?P<a>\d+)(?:-(?P<b>\d+))?$")


_PAGED = re.compile(r"^(?P<src>.+?):p(?P<page>\d+)(?::(?P<spec>.*))?$")


def _split_target(target: str, settings: Settings) -> tuple[str, int | None, int | None, int | None]:
    """SOURCE[:FIRST[-LAST]] or SOURCE:pPAGE[:FIRST[-LAST]] → (source, page, first, last); a bad line spec is a
    usage error that says so."""
    if ":" not in target or (settings.articles_dir / target).is_file():
        return target, None, None, None
    paged = _PAGED.match(target)
    if paged:
        page = int(paged.group("page"))
        if paged.group("spec") is None:
            return paged.group("src"), page, None, None
        src, _, first, last = _split_target(f"{paged.group('src')}:{paged.group('spec')}", settings)
        return src, page, first, last
    src, _, spec = target.rpartition(":")
    example = f"{src or 'FILE'}:17 or {src or 'FILE'}:3-5"
    m = _LINES.match(spec.strip())
    if not m:
        raise click.BadParameter(f"{spec!r} is not a line spec: after the colon give a line or a range, e.g. {example}.", param_hint="TARGET")
    first = int(m.group("a"))
    last = int(m.group("b")) if m.group("b") else first
    if first < 1:
        raise click.BadParameter(f"Lines are numbered from 1, not {first}: e.g. {example}.", param_hint="TARGET")
    if last < first:
        raise click.BadParameter(f"The line range {spec} runs backwards: write the first line first ({last}-{first}).", param_hint="TARGET")
    if not src:
        raise click.BadParameter(f"Name the article before the colon, e.g. file.txt:{spec}.", param_hint="TARGET")
    return src, None, first, last


@cli.command()
@_paths
@click.argument("target")
@click.option("--context", "context_lines", type=click.IntRange(min=0), default=None, metavar="N",
              help="Show only N lines around the cited ones.")
@click.pass_context
def show(ctx, articles_dir, index_dir, model, target, context_lines) -> None:
    """Print an article with the cited lines marked: SOURCE[:FIRST[-LAST]], or SOURCE:pPAGE[:FIRST[-LAST]] for a PDF.

    SOURCE may be the start of a file name (`qa show 003`) when only one article starts that way.
    """
    from .errors import BadPath

    settings = _settings(ctx, articles_dir, index_dir, model)
    require_articles_dir(settings)
    src, page, first, last = _split_target(target, settings)
    assistant = _assistant(settings)
    source = assistant.find_source(src)
    article = assistant.article(source)
    if page is not None:
        span = article.page_lines(page)
        if span is None:
            raise BadPath(f"{source} has no page {page}.", f"It has {len(article.pages)} pages." if article.pages else "Only a PDF has pages.")
        if first is None:
            first, last = span
        elif not (span[0] <= first and last <= span[1]):
            raise BadPath(f"Lines {first}-{last} are not on page {page} of {source} (lines {span[0]}-{span[1]}).", "Check the citation.")
    lines = article.text.split("\n")
    if first is not None and (first > len(lines) or last > len(lines)):
        asked = f"line {first} is" if first == last else f"lines {first}-{last} are"
        raise BadPath(f"{source} has {_plural(len(lines), 'line')}; {asked} not among them.", "Check the line numbers.")
    header = " · ".join(x for x in (article.source, article.title, article.date) if x)
    click.echo(header)
    if article.extracted_from:
        click.echo(f"(text extracted from {article.extracted_from}; line numbers count this text{', [page N] lines start pages' if article.pages else ''})")
    click.echo("-" * min(len(header), 78))
    lo, hi = 1, len(lines)
    if first is not None and context_lines is not None:
        lo, hi = max(1, first - context_lines), min(len(lines), last + context_lines)
    color = sys.stdout.isatty()
    for n in range(lo, hi + 1):
        marked = first is not None and first <= n <= last
        line = f"{'>' if marked else ' '}{n:5d}  {lines[n - 1]}"
        click.echo(click.style(line, bold=True, reverse=True) if (marked and color) else line)


@cli.command()
@_paths
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.pass_context
def status(ctx, articles_dir, index_dir, model, as_json) -> None:
    """Say what is indexed and which articles changed since."""
    from .assistant import require_index

    settings = _settings(ctx, articles_dir, index_dir, model)
    if settings.articles_dir.exists():
        require_articles_dir(settings)  # a file given as the folder; a folder that is gone lists every article as removed
    assistant = _assistant(settings)
    require_index(assistant)
    st = assistant.status()
    if as_json:
        click.echo(json.dumps(st.__dict__, ensure_ascii=False, indent=2))
        return
    from .datefilter import DateCoverage, status_line
    from .text import strip_controls

    click.echo(f"Articles: {st.articles_dir} ({st.files} indexed)")
    click.echo(f"Index:    {st.index_dir} ({st.generation}, built {st.built_at})")
    click.echo(f"Model:    {st.model}")
    click.echo(f"Passages: {st.passages}")
    click.echo(f"Dates:    {status_line(DateCoverage(st.files, st.dated, st.dated, st.date_first, st.date_last))}")
    if st.rebuilding:
        click.echo(f"Rebuilding now: `qa index` (pid {st.rebuilding}) is running; the figures here are from before it.")
    for item in st.touched:
        click.echo(f"  touched  {item} (same bytes, new modification time: nothing to re-read)")
    for item, reason in st.skipped:
        # Reasons that carry their own remedy ("raise QA_MAX_FILE_MB to include it") are not given a second one.
        advice = "" if _HAS_REMEDY.search(reason) else " (not indexed; fix or remove the file)"
        click.echo(f"  skipped  {strip_controls(item)}: {reason}{advice}")
    if not (st.added or st.changed or st.removed or st.renamed):
        click.echo("Up to date: no article changed since the last build.")
        return
    for label, items in (("new", st.added), ("changed", st.changed), ("removed", st.removed)):
        for item in items:
            click.echo(f"  {label:8s} {item}")
    for old, new in st.renamed:
        click.echo(f"  renamed  {old} → {new}")
    if not Path(st.articles_dir).exists():
        click.echo(f"The articles folder {st.articles_dir} does not exist, so every indexed article shows as removed: "
                   "point --articles at the folder this index was built from.")
        return
    from .assistant import index_command

    click.echo(f"Run `{index_command(settings)}` to bring the index up to date.")


@cli.command()
@_paths
@click.option("--watch/--no-watch", default=None, help="Pick up changes in the articles folder automatically.")
@click.pass_context
def chat(ctx, articles_dir, index_dir, model, watch) -> None:
    """Open the chat app (the default command)."""
    settings = _settings(ctx, articles_dir, index_dir, model)
    require_articles_dir(settings)  # before anything loads: a wrong --articles is said at once
    try:
        from tui.app import run_app
    except ImportError as exc:
        raise QAError(f"The chat app is not available ({exc}).", "Reinstall with `make run`.") from exc
    run_app(settings, watch=watch)


from .cli_eval import eval_group  # noqa: E402  (its own module: measuring is not asking)

cli.add_command(eval_group)


def main() -> None:
    try:
        cli.main(prog_name="qa", standalone_mode=True)
    except SystemExit:
        raise
    except BaseException:  # only reached with QA_DEBUG=1, where a traceback is wanted
        traceback.print_exc()
        sys.exit(1)
