"""The core's public face: one object that the CLI, the chat app and the eval all drive the same way."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from .answer import Answer, Answerer, idf_weights
from .followups import SUMMARY_PASSAGES, continue_answer, summarize
from .config import Settings
from .datefilter import DateCoverage, coverage
from .conversation import Conversation, Turn
from .documents import FileEntry, Passage, Skipped, discover, read_document
from .formats import kind_of
from .embedding import Embedder, embedder_for, identity
from .errors import ArticleGone, BadPath, BadQuestion, IndexEmpty, IndexMissing, QAError
from .intents import IntentDetector
from .spelling import correct
from .indexer import BuildReport, ProgressFn, build_index
from .retrieval import Hit, Mode, Retriever
from .stores import Store, backend, check_compatible
from .text import content_terms, strip_controls, words

MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class Article:
    """An article as the source viewer shows it: cleaned (or extracted) text and its passages."""

    source: str
    text: str
    title: str
    date: str | None
    passages: tuple[Passage, ...]
    kind: str = "text"  # "html", "pdf", "docx": the text shown was extracted from such a file
    pages: tuple[int, ...] = ()  # PDF: the line of each page's marker

    @property
    def extracted_from(self) -> str:
        """'' for a text file, else e.g. 'PDF': what the header says the text was extracted from."""
        from .formats import LABELS

        return "" if self.kind == "text" else LABELS.get(self.kind, self.kind)

    def page_lines(self, page: int) -> tuple[int, int] | None:
        """First and last line of a PDF page in the extracted text, or None if there is no such page."""
        if not 1 <= page <= len(self.pages):
            return None
        last = self.pages[page] - 1 if page < len(self.pages) else self.text.count("\n") + 1
        return self.pages[page - 1], last


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
    touched: list[str] = field(default_factory=list)  # new modification time, same bytes: nothing to re-read
    renamed: list[tuple[str, str]] = field(default_factory=list)  # (old, new), same bytes
    dated: int = 0  # articles with a date, and the span of those dates
    date_first: str | None = None
    date_last: str | None = None
    # (file, reason): not in the index because the last build skipped it (empty, binary, encrypted...), not new
    skipped: list[tuple[str, str]] = field(default_factory=list)
    rebuilding: str | None = None  # pid of a `qa index` running now: the figures are the index's before it


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
        self.embedder = embedder or embedder_for(settings)
        self.mode = mode
        self.answerer = make_answerer(settings.reader)
        # Overview and "tell me more" are told from questions by the embedder (qa/intents.py).
        self.intents = IntentDetector(self.embedder) if settings.intents else None
        self._index: Store | None = None
        self._lock = threading.RLock()

    # ------------------------------------------------------------ loading

    def load_model(self) -> None:
        for part in (self.embedder, self.answerer.reader):
            load = getattr(part, "load", None)
            if load:
                load()

    def index(self) -> Store:
        """The live index, reopened when a rebuild (here or in another process) switched generations."""
        with self._lock:
            if self._index is not None and not self._index.is_current():
                old, self._index = self._index, None
                old.close()
            if self._index is None:
                self._index = backend(self.settings).open(model=None)
                check_compatible(self._index.meta, self.embedder.name, *identity(self.embedder))
            return self._index

    def has_index(self) -> bool:
        if self.settings.store == "faiss":
            return backend(self.settings).exists()
        if self._index is not None:
            return True  # a remote store: no round trip per question once it is open
        try:
            return backend(self.settings).exists()
        except QAError:
            return True  # unreachable: opening it says why, in one line, where errors are shown

    def close(self) -> None:
        with self._lock:
            if self._index is not None:
                self._index.close()
                self._index = None

    # ------------------------------------------------------------ asking

    def retriever(self, index: Store | None = None) -> Retriever:
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
        include_undated: bool = False,
    ) -> Answer:
        question = validate_question(question)
        # One index for the whole answer, held under the lock: a rebuild that finishes meanwhile (the app's
        # ctrl+r or watcher) closes the old generation only after this answer is composed.
        with self._lock:
            index = self.index()
            if index.meta.passages == 0:
                raise IndexEmpty(f"The index of {self.settings.articles_dir} is empty: no article has been indexed yet.",
                                 f"Add {supported_kinds()} files to the folder, then run `qa index`.")
            intent = self.intents.detect(question) if self.intents is not None else "question"
            asked = question
            if intent == "more" and conversation is not None and conversation.last_found is not None:
                answer = continue_answer(question, conversation.last_found, index, conversation.shown, self.answerer)
            elif intent == "summary":
                hits = self.retriever(index).search(question, SUMMARY_PASSAGES, since=since, until=until, include_undated=include_undated)
                answer = summarize(question, hits, index, self.answerer)
            else:
                asked = correct(question, index)  # "foregn" -> "foreign": the keyword side needs the word
                reasked = conversation.reask(asked) if conversation is not None else None
                rewritten, subject = reasked or (None, None)
                if rewritten:
                    asked, query, context_terms = rewritten, rewritten, []
                else:
                    query, context_terms = conversation.contextual_query(asked) if conversation else (asked, [])
                # A follow-up does not repeat what this chat has shown, unless the same question is asked again.
                follow_up = conversation is not None and (bool(context_terms) or bool(rewritten))
                shown = frozenset(conversation.shown) if follow_up and not conversation.asked_before(question) else frozenset()
                hits = self.retriever(index).search(query, k or self.settings.k, since=since, until=until, include_undated=include_undated)
                self.answerer.idf = _idf(index, tuple(sorted(set(words(query)))))
                # The reader reads the follow-up with the thread's words ("When is it?" alone names nothing).
                # "And Russia?" is answered only by a sentence about Russia: without one, the best sentence is
                # still the previous subject's answer.
                answer = self.answerer.compose(asked, hits, query=query, context_terms=context_terms, shown=shown,
                                               reader_question=query if follow_up else None, lead_must_hold=subject)
                if context_terms and not answer.found and not conversation.refers_back(asked):
                    # Read as a follow-up for being short it found nothing; a short question of its own ("Who is
                    # Kalin?" after another topic) may still be answered as it stands, as `qa ask` answers it.
                    answer = self._ask_alone(asked, index, k, since=since, until=until, include_undated=include_undated) or answer
        if conversation is not None:
            conversation.add(Turn(question, answer.query, answer.text, answer.found, asked))
            conversation.remember(answer)
        return answer

    def _ask_alone(self, question: str, index: Store, k: int | None, **filters) -> Answer | None:
        hits = self.retriever(index).search(question, k or self.settings.k, **filters)
        self.answerer.idf = _idf(index, tuple(sorted(set(words(question)))))
        answer = self.answerer.compose(question, hits, query=question)
        return answer if answer.found else None

    # ------------------------------------------------------------ articles

    def article(self, source: str) -> Article:
        """Read an article fresh from disk, split exactly as the index splits it.

        A web page, PDF or Word file shows its extracted text: from the cache by content hash (what the
        index was built from), parsed again in the sandbox only when the file changed or the cache is gone.
        """
        root = self.settings.articles_dir.resolve()
        path = (root / source).resolve()
        if root not in path.parents:
            raise BadPath(f"No article {source!r} in {root}.", "Use a path from a citation, e.g. qa show file.txt:3-5.")
        if not path.is_file():
            if source in self._indexed_sources():
                raise ArticleGone(source, f"{source} is no longer in {root}: it was removed or renamed after it was indexed.",
                                  "Run `qa index` to update the index, then ask again.")
            raise BadPath(f"No article {source!r} in {root}.", "Use a path from a citation, e.g. qa show file.txt:3-5.")
        st = path.stat()
        entry = FileEntry(source, path, st.st_size, st.st_mtime_ns)
        cache, digest = None, None
        if kind_of(source) not in (None, "text"):
            from .formats.cache import TextCache
            from .indexer import _sha256

            try:
                cache, digest = TextCache(self.settings.index_dir), _sha256(entry)
            except OSError:
                pass  # read_document says why
        doc = read_document(entry, cache=cache, sha256=digest, limits=self.settings.limits())
        if isinstance(doc, Skipped):
            raise BadPath(f"Cannot show {source}: {doc.reason}.", "Check the file.")
        return Article(doc.source, doc.text, doc.title, doc.date, doc.passages, doc.kind, doc.pages)

    def _indexed_sources(self) -> set[str]:
        try:
            return set(self.index().files()) if self.has_index() else set()
        except QAError:
            return set()

    def find_source(self, name: str) -> str:
        """The article `name` names: itself, or the one article whose path or file name starts with it.

        An ambiguous or unknown name raises BadPath listing the close matches."""
        import difflib

        root = self.settings.articles_dir.resolve()
        name = name.strip().removeprefix("./")
        path = (root / name).resolve()
        if root in path.parents and path.is_file():
            return path.relative_to(root).as_posix()
        on_disk = [e.source for e in discover(root, self.settings.max_file_bytes)[0]] if root.is_dir() else []
        known = sorted(set(on_disk) | self._indexed_sources())
        base = lambda s: s.rsplit("/", 1)[-1]  # noqa: E731
        starts = [s for s in known if s.startswith(name) or base(s).startswith(name)] if name else []
        if len(starts) == 1:
            return starts[0]
        if starts:
            listed = ", ".join(starts[:5]) + (f" and {len(starts) - 5} more" if len(starts) > 5 else "")
            raise BadPath(f"{name!r} matches {len(starts)} articles: {listed}.", "Give more of the name.")
        close = [s for s in known if name and name in s][:3] or difflib.get_close_matches(name, known, n=3, cutoff=0.5) or [
            s for s in known if base(s) in difflib.get_close_matches(name, [base(k) for k in known], n=3, cutoff=0.5)
        ]
        hint = f"Close matches: {', '.join(close)}." if close else f"`qa status` says what is indexed; citations name files as FILE:LINES."
        raise BadPath(f"No article {name!r} in {root}.", hint)

    def date_coverage(self, since: str | None = None, until: str | None = None) -> DateCoverage:
        """How many indexed articles are dated, and how many fall in [since, until]."""
        return coverage([r.date for r in self.index().files().values()], since, until)

    def indexed_files(self) -> int:
        """Articles in the index; 0 when there is none (opens no model)."""
        return self.index().meta.files if self.has_index() else 0

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
        entries, found_skipped = discover(self.settings.articles_dir, self.settings.max_file_bytes) if self.settings.articles_dir.is_dir() else ([], [])
        known = index.files()
        present = {e.source for e in entries}
        removed = sorted(s for s in known if s not in present)
        added, changed, touched, renamed = [], [], [], []
        skipped = [(s.path, s.reason) for s in found_skipped]
        # A file whose size or time moved is hashed, as `qa index` would: the same bytes are not a change.
        gone_by_hash: dict[str, list[str]] = {}
        for source in removed:
            gone_by_hash.setdefault(known[source].sha256, []).append(source)
        for e in entries:
            old = known.get(e.source)
            if old is not None and (old.size, old.mtime_ns) == (e.size, e.mtime_ns):
                continue
            digest = _sha256_or_none(e.path) if (old is not None and old.size == e.size) or (old is None and gone_by_hash) else None
            if old is None:
                if digest and gone_by_hash.get(digest):
                    was = gone_by_hash[digest].pop(0)
                    removed.remove(was)
                    renamed.append((was, e.source))
                else:
                    reason = self._skip_reason(e)
                    if reason:
                        skipped.append((e.source, reason))
                    else:
                        added.append(e.source)
            elif digest == old.sha256:
                touched.append(e.source)
            else:
                changed.append(e.source)
        m = index.meta
        dates = coverage([r.date for r in known.values()])
        return Status(str(self.settings.articles_dir), str(self.settings.index_dir), m.generation, m.model, m.files, m.passages,
                      m.built_at, sorted(added), sorted(changed), removed, sorted(touched), sorted(renamed),
                      dates.dated, dates.first, dates.last, sorted(skipped), self._rebuild_running())

    def _rebuild_running(self) -> str | None:
        from .locking import rebuild_running

        return rebuild_running(self.settings.index_dir)  # every store's rebuilds take this folder's lock

    def _skip_reason(self, entry) -> str | None:
        """Why `qa index` would skip (or skipped) a file not in the index: a text file is read (cheap); a web
        page, PDF or Word file is not parsed here, only looked up in the extraction cache by content hash."""
        from .documents import Skipped, parse_document
        from .formats import kind_of
        from .formats.cache import TextCache

        if (kind_of(entry.source) or "text") == "text":
            try:
                result = parse_document(entry.source, entry.path.read_bytes())
            except OSError as exc:
                return f"cannot read ({exc.strerror or exc})"
            return result.reason if isinstance(result, Skipped) else None
        digest = _sha256_or_none(entry.path)
        cached = TextCache(self.settings.index_dir).get(digest) if digest else None
        return cached if isinstance(cached, str) else None


def _sha256_or_none(path) -> str | None:
    import hashlib

    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    except OSError:
        return None
    return digest.hexdigest()


def supported_kinds() -> str:
    """The file kinds the folder is searched for, as a user types them: ".md/.txt"."""
    from .documents import SUFFIXES

    return "/".join(sorted(SUFFIXES))


def make_answerer(reader: str = "rules") -> Answerer:
    """"reader": sentences scored by the trained reader model with the rules; anything else: the rules alone."""
    if reader != "reader":
        return Answerer()
    from .reader.runtime import default_reader

    return Answerer(reader=default_reader(), **READER_DEFAULTS)


# Chosen on the development data (docs/evaluation.md, "Reader"): tests/data/questions_dev.jsonl and the
# development half of the held-out SQuAD articles. The scored sets are only measured.
READER_DEFAULTS: dict = {"use_coverage": True, "require_shape": True, "rule_weight": 2.0, "min_logit": -3.0}


def _idf(index: Store, query_words: tuple[str, ...]) -> dict[str, float]:
    """IDF of the query's content terms, from the per-term document frequencies kept in the index."""
    terms = sorted({t for w in query_words for t in content_terms(w)})
    return idf_weights(index.document_frequencies(terms), max(index.meta.passages, 1))


def require_index(assistant: Assistant) -> None:
    if not assistant.has_index():
        raise IndexMissing(f"No index in {assistant.settings.index_dir}.", f"Run `{index_command(assistant.settings)}` to build it.")


def index_command(settings) -> str:
    """`qa index` as this user must type it: with --articles/--index when they are not the defaults."""
    import shlex

    from .config import load_settings

    default = load_settings()
    parts = ["qa index"]
    if settings.articles_dir.resolve() != default.articles_dir.resolve():
        parts.append(f"--articles {shlex.quote(str(settings.articles_dir))}")
    if settings.index_dir.resolve() != default.index_dir.resolve():
        parts.append(f"--index {shlex.quote(str(settings.index_dir))}")
    return " ".join(parts)
