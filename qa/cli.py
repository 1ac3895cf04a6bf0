"""The `qa` command. Errors are translated here, once: a one-line message and an exit code.

Exit codes: 0 ok; 1 a problem the user can fix (message says what to do); 2 bad usage.
"""

from __future__ import annotations

import json
import re
import sys
import traceback

import click

from .config import Settings, debug_enabled, load_settings
from .errors import BadPath, QAError


class _Group(click.Group):
    """Translates errors from every subcommand at one place."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
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


def _paths(f):
    f = click.option("--index", "index_dir", metavar="DIR", help="Index folder (default: index/ or $QA_INDEX_DIR).")(f)
    f = click.option("--articles", "articles_dir", metavar="DIR", help="Articles folder (default: articles/ or $QA_ARTICLES_DIR).")(f)
    f = click.option("--model", metavar="NAME", help="A sentence-transformers model folder, or a name in the Hugging Face cache (default: the packaged all-MiniLM-L6-v2, or $QA_MODEL).")(f)
    return f


def _settings(ctx: click.Context, articles_dir, index_dir, model) -> Settings:
    parent = ctx.find_root().params
    return load_settings(
        articles=articles_dir or parent.get("articles_dir"),
        index=index_dir or parent.get("index_dir"),
        model=model or parent.get("model"),
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
@click.pass_context
def index(ctx, articles_dir, index_dir, model, full, as_json, watch) -> None:
    """Build or update the index of the articles folder."""
    from .embedding import terminal_progress

    settings = _settings(ctx, articles_dir, index_dir, model)
    assistant = _assistant(settings)
    bar = None if as_json else terminal_progress("Embedding")

    def progress(p):
        if bar and p.phase == "embed":
            bar(p.done, p.total)

    report = assistant.rebuild(full=full, progress=progress)
    _print_report(report, as_json, settings)
    if watch:
        from .watch import watch_folder

        click.echo(f"Watching {settings.articles_dir} for changes (Ctrl-C to stop)…", err=True)
        try:
            watch_folder(assistant, on_report=lambda r: _print_report(r, as_json, settings, brief=True))
        except KeyboardInterrupt:
            click.echo("Stopped watching.", err=True)


def _print_report(report, as_json: bool, settings: Settings, brief: bool = False) -> None:
    from .text import strip_controls

    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False))
        return
    parts = [f"{len(report.added)} added", f"{len(report.changed)} changed", f"{len(report.removed)} removed",
             f"{len(report.renamed)} renamed", f"{report.unchanged} unchanged"]
    if brief:
        click.echo(f"Index updated: {', '.join(parts)}; {report.embedded} passages embedded, {report.passages} in index ({report.seconds:.2f} s).")
        return
    click.echo(f"Indexed {settings.articles_dir}")
    click.echo(f"  files:    {report.files} ({', '.join(parts)})")
    click.echo(f"  passages: {report.passages} in the index, {report.embedded} embedded now")
    for s in report.skipped:
        click.echo(f"  skipped:  {strip_controls(s.path)}: {s.reason}")
    click.echo(f"  time:     {report.seconds:.2f} s")


@cli.command()
@_paths
@click.argument("question", nargs=-1, required=True)
@click.option("-k", "k", type=click.IntRange(1, 50), default=None, help="Passages to retrieve (default 5).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--since", metavar="DATE", help="Only articles dated on or after DATE (YYYY-MM-DD).")
@click.option("--until", metavar="DATE", help="Only articles dated on or before DATE (YYYY-MM-DD).")
@click.pass_context
def ask(ctx, articles_dir, index_dir, model, question, k, as_json, since, until) -> None:
    """Answer QUESTION from the indexed articles, with numbered citations."""
    from .assistant import require_index, validate_question

    settings = _settings(ctx, articles_dir, index_dir, model)
    text = validate_question(" ".join(question))
    since, until = _date(since, "--since"), _date(until, "--until")
    assistant = _assistant(settings)
    require_index(assistant)
    from .embedding import preload

    preload(assistant.embedder)  # the model loads while the index opens
    answer = assistant.ask(text, k=k, since=since, until=until)
    if as_json:
        click.echo(json.dumps(answer.to_dict(), ensure_ascii=False, indent=2))
        return
    click.echo(answer.text)
    click.echo()
    click.echo("Sources:" if answer.found else "Nearest passages (not an answer):")
    for c in answer.citations:
        p = c.passage
        meta = " · ".join(x for x in (p.title, p.date) if x)
        click.echo(f"  [{c.n}] {p.citation}  (score {c.score:.2f}){'  ' + meta if meta else ''}")
        for a in c.also:
            click.echo(f"       same text in {a.citation}")
    click.echo()
    click.echo("Read a source in full: qa show FILE:LINES", err=True)


def _date(value: str | None, flag: str) -> str | None:
    if not value:
        return None
    from datetime import date

    try:
        return date.fromisoformat(value).isoformat()
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date like 2022-03-01.", param_hint=flag) from None


@cli.command()
@_paths
@click.argument("target")
@click.option("--context", "context_lines", type=int, default=None, help="Show only N lines around the cited ones.")
@click.pass_context
def show(ctx, articles_dir, index_dir, model, target, context_lines) -> None:
    """Print an article with the cited lines marked: SOURCE[:FIRST[-LAST]]."""
    settings = _settings(ctx, articles_dir, index_dir, model)
    m = re.match(r"^(?P<src>.+?)(?::(?P<a>\d+)(?:-(?P<b>\d+))?)?$", target)
    if not m:
        raise BadPath(f"Cannot read {target!r}.", "Use SOURCE, SOURCE:LINE or SOURCE:FIRST-LAST.")
    first = int(m.group("a")) if m.group("a") else None
    last = int(m.group("b")) if m.group("b") else first
    article = _assistant(settings).article(m.group("src"))
    lines = article.text.split("\n")
    if first is not None and (first < 1 or first > len(lines) or last < first):
        raise BadPath(f"{m.group('src')} has {len(lines)} lines; {first}-{last} is not among them.", "Check the line numbers.")
    header = " · ".join(x for x in (article.source, article.title, article.date) if x)
    click.echo(header)
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
    assistant = _assistant(settings)
    require_index(assistant)
    st = assistant.status()
    if as_json:
        click.echo(json.dumps(st.__dict__, ensure_ascii=False, indent=2))
        return
    click.echo(f"Articles: {st.articles_dir} ({st.files} indexed)")
    click.echo(f"Index:    {st.index_dir} ({st.generation}, built {st.built_at})")
    click.echo(f"Model:    {st.model}")
    click.echo(f"Passages: {st.passages}")
    if not (st.added or st.changed or st.removed):
        click.echo("Up to date: no article changed since the last build.")
        return
    for label, items in (("new", st.added), ("changed", st.changed), ("removed", st.removed)):
        for item in items:
            click.echo(f"  {label:8s} {item}")
    click.echo("Run `qa index` to bring the index up to date.")


@cli.command()
@_paths
@click.option("--watch/--no-watch", default=None, help="Pick up changes in the articles folder automatically.")
@click.pass_context
def chat(ctx, articles_dir, index_dir, model, watch) -> None:
    """Open the chat app (the default command)."""
    settings = _settings(ctx, articles_dir, index_dir, model)
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
