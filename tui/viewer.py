"""The source viewer: the whole article, scrolled to the cited passage, the answer's sentences marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.geometry import Size
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Footer, Static

from qa.errors import BadPath, QAError

from .render import Highlight, article_rows, literal, locate, shown_path

if TYPE_CHECKING:  # types only: the answering core loads after the first paint
    from qa.answer import Citation


class ArticleView(Widget):
    """Article lines with numbers; wraps itself so it knows the row each line starts on."""

    COMPONENT_CLASSES = {"article--passage", "article--sentence", "article--gutter"}
    DEFAULT_CSS = """
    ArticleView { height: auto; }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.lines: list[str] = []
        self.highlight: Highlight | None = None
        self._cache: tuple[int, list[Text], dict[int, int]] | None = None

    def show(self, text: str, highlight: Highlight | None) -> None:
        self.lines = text.split("\n")
        self.highlight = highlight
        self._cache = None
        self.refresh(layout=True)

    def _layout(self, width: int) -> tuple[list[Text], dict[int, int]]:
        if self._cache is None or self._cache[0] != width:
            rows, row_of = article_rows(
                self.lines,
                self.highlight,
                width,
                self.app.console,
                self.get_component_rich_style("article--passage"),
                self.get_component_rich_style("article--sentence"),
                self.get_component_rich_style("article--gutter"),
            )
            self._cache = (width, rows, row_of)
        return self._cache[1], self._cache[2]

    def row_of_line(self, line: int) -> int:
        _, row_of = self._layout(max(self.size.width, 20))
        return row_of.get(line, 0)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self._layout(width)[0])

    def render(self) -> Text:
        rows, _ = self._layout(max(self.size.width, 20))
        return Text("\n", no_wrap=True, end="").join(rows)


class SourceViewer(Screen):
    """Opened from a citation; n / p step through the answer's citations, Escape returns."""

    BINDINGS = [
        Binding("escape", "close", "Back"),
        Binding("n", "step(1)", "Next citation"),
        Binding("p", "step(-1)", "Previous citation"),
        Binding("question_mark", "app.help", "Help", show=False),
        Binding("ctrl+q", "app.quit", "Quit", show=False, priority=True),
    ]

    def __init__(self, assistant, citations: tuple[Citation, ...], index: int, found: bool = True) -> None:
        super().__init__()
        self.assistant = assistant
        self.citations = citations
        self.index = index
        self.found = found

    def compose(self) -> ComposeResult:
        yield Static(id="viewer-head", markup=False)
        with VerticalScroll(id="viewer-body"):
            yield ArticleView(id="article")
        yield Footer()

    def on_mount(self) -> None:
        self.load(self.index)
        self.query_one("#viewer-body").focus()

    def load(self, index: int) -> bool:
        """Show citation `index`; False (and a notification) when the article cannot be read."""
        citation = self.citations[index]
        try:
            article = self.assistant.article(citation.passage.source)
        except BadPath:
            from .app import source_gone

            message, hint = source_gone(citation.passage.source)
            self.app.notify(f"{message}\n{hint}", title="Cannot open the source", severity="error")
            return False
        except QAError as exc:
            self.app.notify(f"{exc.message}\n{exc.hint}".strip(), title="Cannot open the source", severity="error")
            return False
        self.index = index
        highlight = locate(article.text, citation, article.passages)
        path = shown_path(self.assistant.settings.articles_dir / article.source)
        span = f"{highlight.first_line}" if highlight.first_line == highlight.last_line else f"{highlight.first_line}-{highlight.last_line}"
        head = Text(no_wrap=False)
        head.append(f"[{citation.n}] ", style="bold")
        page = f"p{citation.passage.page}:" if citation.passage.page else ""
        head.append(f"{literal(path)}:{page}{span}", style="bold")
        head.append(f"   citation {index + 1} of {len(self.citations)}", style="dim")
        if not self.found:
            head.append(" · nearest passage, not an answer", style="dim")
        head.append("\n")
        head.append(literal(article.title) or "(untitled)", style="italic")
        head.append(f" · {article.date or 'no date'} · score {citation.score:.2f}", style="dim")
        if article.extracted_from:
            head.append(f" · text extracted from {article.extracted_from}", style="dim")
        self.query_one("#viewer-head", Static).update(head)
        view = self.query_one("#article", ArticleView)
        view.show(article.text, highlight)
        self.call_after_refresh(self._scroll_to_passage, highlight.first_line)
        return True

    def _scroll_to_passage(self, line: int) -> None:
        view = self.query_one("#article", ArticleView)
        body = self.query_one("#viewer-body", VerticalScroll)
        # Two lines of context above the passage (unless they are long paragraphs: then two rows).
        row = view.row_of_line(line)
        above = view.row_of_line(max(1, line - 2))
        body.scroll_to(y=above if row - above <= 4 else row - 2, animate=False, immediate=True)

    def action_step(self, step: int) -> None:
        if len(self.citations) < 2:
            self.app.notify("This answer has one citation.", timeout=2)
            return
        self.load((self.index + step) % len(self.citations))

    def action_close(self) -> None:
        self.dismiss()
