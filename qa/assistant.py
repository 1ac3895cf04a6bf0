"""The core's public face: one object that the CLI, the chat app and the eval all drive the same way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from .answer import Answer, Answerer, idf_weights
from .followups import SUMMARY_PASSAGES, continue_answer, summarize
from .config import Settings
from .conversation import Conversation, Turn
from .documents import FileEntry, Passage, Skipped, discover, read_document
from .embedding import Embedder, SentenceTransformerEmbedder
from .errors import BadQuestion, IndexMissing
from .intents import IntentDetector
from .spelling import correct
from .indexer import BuildReport, ProgressFn, build_index
from .retrieval import Hit, Mode, Retriever
from .store import Index, check_compatible
from .text import content_terms, strip_controls, words

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Article:
    """An article as the source viewer shows it: cleaned text and its passages."""

    source: str
    text: str
    title: str
    date: str | None
    passages: tuple[Passage, ...]


@dataclass(frozen=True)
class Status:
    articles_dir: str
    index_dir: str
    generation: str
    model: str
    files: int
    passages: int
    built_at: str
    added: list[str]
    changed: list[str]
    removed: list[str]


def validate_question(question: str) -> str:
    question = " ".join(strip_controls(question or "").split())
    if not question:
        raise BadQuestion("The question is empty.", 'Ask something, e.g. qa ask "Where did the ministers meet?"')
    if len(question) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"The question is {len(question)} characters long; the limit is {MAX_QUESTION_CHARS}.", "Ask a shorter question.")
    if not any(ch.isalnum() for ch in question):
        raise BadQuestion("The question has no words in it.", "Ask in words, e.g. \"Who is Turkey's spokesperson?\"")
    return question


class Assistant:
    """Loads lazily; thread-safe for one asker and one rebuilder at a time."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, mode: Mode = "hybrid") -> None:
        self.settings = settings
        self.embedder = embedder or SentenceTransformerEmbedder(settings.model, settings.batch_size)
        self.mode = mode
        self.answerer = make_answerer(settings.reader)
        # Overview and "tell me more" are told from questions by the embedder (qa/intents.py).
        self.intents = IntentDetector(self.embedder) if settings.intents else None
        self._index: Index | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------ loading

    def load_model(self) -> None:
        for part in (self.embedder, self.answerer.reader):
            load = getattr(part, "load", None)
            if load:
                load()

    def index(self) -> Index:
        """The live index, reopened when a rebuild (here or in another process) switched generations."""
        with self._lock:
            if self._index is not None and not self._index.is_current():
                old, self._index = self._index, None
                old.close()
            if self._index is None:
                self._index = Index.open(self.settings.index_dir, model=None)
                check_compatible(self._index.meta, self.embedder.name)
            return self._index

    def has_index(self) -> bool:
        return (self.settings.index_dir / "CURRENT").exists()

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    # ------------------------------------------------------------ asking

    def retriever(self, index: Index | None = None) -> Retriever:
        return Retriever(index if index is not None else self.index(), self.embedder, self.mode)

    def search(self, query: str, k: int | None = None, **filters) -> list[Hit]:
        with self._lock:  # a rebuild finishing meanwhile must not close the index under this search
            return self.retriever().search(query, k or self.settings.k, **filters)

    def ask(
        self,
        question: str,
        conversation: Conversation | None = None,
        k: int | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        question = validate_question(question)
        # One index for the whole answer, held under the lock: a rebuild that finishes meanwhile (the app's
        # ctrl+r or watcher) closes the old generation only after this answer is composed.
        with self._lock:
            index = self.index()
            intent = self.intents.detect(question) if self.intents is not None else "question"
            asked = question
            if intent == "more" and conversation is not None and conversation.last_found is not None:
                answer = continue_answer(question, conversation.last_found, index, conversation.shown, self.answerer)
            elif intent == "summary":
                hits = self.retriever(index).search(question, SUMMARY_PASSAGES, since=since, until=until)
                answer = summarize(question, hits, index, self.answerer)
            else:
                asked = correct(question, index)  # "foregn" -> "foreign": the keyword side needs the word
                rewritten = conversation.reask(asked) if conversation is not None else None
                if rewritten:
                    asked, query, context_terms = rewritten, rewritten, []
                else:
                    query, context_terms = conversation.contextual_query(asked) if conversation else (asked, [])
                # A follow-up does not repeat what this chat has shown, unless the same question is asked again.
                follow_up = conversation is not None and (bool(context_terms) or bool(rewritten))
                shown = frozenset(conversation.shown) if follow_up and not conversation.asked_before(question) else frozenset()
                hits = self.retriever(index).search(query, k or self.settings.k, since=since, until=until)
                self.answerer.idf = _idf(index, tuple(sorted(set(words(query)))))
                answer = self.answerer.compose(asked, hits, query=query, context_terms=context_terms, shown=shown)
        if conversation is not None:
            conversation.add(Turn(question, answer.query, answer.text, answer.found, asked))
            conversation.remember(answer)
        return answer

    # ------------------------------------------------------------ articles

    def article(self, source: str) -> Article:
        """Read an article fresh from disk, split exactly as the index splits it."""
        from .errors import BadPath

        root = self.settings.articles_dir.resolve()
        path = (root / source).resolve()
        if root not in path.parents or not path.is_file():
            raise BadPath(f"No article {source!r} in {root}.", "Use a path from a citation, e.g. qa show file.txt:3-5.")
        st = path.stat()
        doc = read_document(FileEntry(source, path, st.st_size, st.st_mtime_ns))
        if isinstance(doc, Skipped):
            raise BadPath(f"Cannot show {source}: {doc.reason}.", "Check the file.")
        return Article(doc.source, doc.text, doc.title, doc.date, doc.passages)

    # ------------------------------------------------------------ rebuilding

    def rebuild(self, full: bool = False, progress: ProgressFn | None = None, cancelled: Callable[[], bool] | None = None) -> BuildReport:
        report = build_index(self.settings, self.embedder, full=full, progress=progress, cancelled=cancelled)
        with self._lock:
            if self._index is not None and not self._index.is_current():
                self._index.close()
                self._index = None
        return report

    def status(self) -> Status:
        index = self.index()
        entries, _ = discover(self.settings.articles_dir, self.settings.max_file_bytes) if self.settings.articles_dir.is_dir() else ([], [])
        known = index.files()
        added = sorted(e.source for e in entries if e.source not in known)
        changed = sorted(
            e.source for e in entries if e.source in known and (known[e.source].size, known[e.source].mtime_ns) != (e.size, e.mtime_ns)
        )
        present = {e.source for e in entries}
        removed = sorted(s for s in known if s not in present)
        m = index.meta
        return Status(str(self.settings.articles_dir), str(self.settings.index_dir), m.generation, m.model, m.files, m.passages, m.built_at, added, changed, removed)


def make_answerer(reader: str = "rules") -> Answerer:
    """"reader": sentences scored by the trained reader model with the rules; anything else: the rules alone."""
    if reader != "reader":
        return Answerer()
    from .reader.runtime import default_reader

    return Answerer(reader=default_reader(), **READER_DEFAULTS)


# Chosen on the development data (docs/evaluation.md, "Reader"): tests/data/questions_dev.jsonl and the
# development half of the held-out SQuAD articles. The scored sets are only measured.
READER_DEFAULTS: dict = {"use_coverage": True, "require_shape": True, "rule_weight": 2.0, "min_logit": -3.0}


def _idf(index: Index, query_words: tuple[str, ...]) -> dict[str, float]:
    """IDF of the query's content terms, from the per-term document frequencies kept in the index."""
    terms = sorted({t for w in query_words for t in content_terms(w)})
    return idf_weights(index.document_frequencies(terms), max(index.meta.passages, 1))


def require_index(assistant: Assistant) -> None:
    if not assistant.has_index():
        raise IndexMissing(f"No index in {assistant.settings.index_dir}.", "Run `qa index` to build it.")
