"""Retriever: dense and keyword (BM25) search through the store, fused, with duplicates collapsed.

The store (FAISS + SQLite, or Milvus) runs both searches; fusion and collapse happen here, the same for every store."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from .documents import Passage
from .embedding import Embedder
from .stores import Store
from .text import STOPWORDS, stem, words

if TYPE_CHECKING:
    import numpy as np

Mode = Literal["dense", "keyword", "hybrid"]
MODES: tuple[str, ...] = ("dense", "keyword", "hybrid")
# Passages whose vectors are this similar are the same wire copy with small edits.
NEAR_DUPLICATE = 0.97
RRF_K = 60


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # the ranking score of the chosen mode
    dense: float  # cosine similarity with the query (0.0 when not computed)
    keyword: float  # BM25 score (0.0 when the passage has no query word)
    also: tuple[Passage, ...] = ()  # the same (or nearly the same) text in other places

    @property
    def sources(self) -> list[str]:
        return [self.passage.source] + [p.source for p in self.also if p.source != self.passage.source]


# FTS5 scores every passage that holds any query word; common words barely move BM25 but can
# make it score most of a large table. Words are kept rarest first while their postings fit this
# budget; past it, more words are added to reach MIN_KEYWORD_TERMS only if each fits the budget on
# its own. That bounds the work whatever the index size: at a million passages one word in 7 % of
# them made a keyword query score 150,000 rows (over 100 ms) while adding little to the ranking.
POSTINGS_BUDGET = 8000
MIN_KEYWORD_TERMS = 3


def keyword_terms(text: str, index: Store | None = None) -> list[str]:
    """The question's informative words for the keyword search, rarest first within a postings budget."""
    terms: list[str] = []
    for w in words(text):
        if w in STOPWORDS or (len(w) < 2 and not w.isdigit()) or w in terms:
            continue
        terms.append(w)
    if index is not None and len(terms) > 1:
        stems = {t: stem(t) for t in terms}
        df = index.document_frequencies(sorted(set(stems.values())))
        known = sorted((t for t in terms if df[stems[t]] > 0), key=lambda t: df[stems[t]])
        kept, postings = [], 0
        for t in known:
            postings += df[stems[t]]
            if postings > POSTINGS_BUDGET and kept and (len(kept) >= MIN_KEYWORD_TERMS or df[stems[t]] > POSTINGS_BUDGET):
                break
            kept.append(t)
        terms = kept or terms
    return terms


def fts_query(text: str, index: Store | None = None) -> str:
    """An FTS5 OR-query of the question's informative words; quoted so no user text is FTS syntax."""
    return " OR ".join(f'"{t}"' for t in keyword_terms(text, index))


_POOL = None


def _pool():
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=2, thread_name_prefix="qa-keyword")
    return _POOL


class Retriever:
    def __init__(self, index: Store, embedder: Embedder, mode: Mode = "hybrid", fusion: str = "convex", alpha: float = 0.5) -> None:
        self.index = index
        self.embedder = embedder
        self.mode = mode
        self.fusion = fusion  # "rrf" or "convex"
        self.alpha = alpha  # weight of dense scores in the convex fusion

    def search(
        self,
        query: str,
        k: int = 5,
        mode: Mode | None = None,
        since: str | None = None,
        until: str | None = None,
        candidates: int | None = None,
        include_undated: bool = False,
    ) -> list[Hit]:
        mode = mode or self.mode
        allowed = self.index.ids_between(since, until, include_undated) if (since or until) else None
        depth = candidates or max(4 * k, 30)
        if mode == "hybrid":
            # SQLite and torch both release the GIL: the keyword query runs while the question is embedded,
            # so a hybrid answer waits for the slower of the two, not their sum.
            pending = _pool().submit(self._keyword, query, depth, allowed)
            dense = self._dense(query, depth, allowed)
            keyword = pending.result()
        else:
            dense = self._dense(query, depth, allowed) if mode == "dense" else {}
            keyword = self._keyword(query, depth, allowed) if mode == "keyword" else {}
        if mode == "dense":
            scored = dense
        elif mode == "keyword":
            scored = keyword
        else:
            scored = fuse_rrf(dense, keyword) if self.fusion == "rrf" else fuse_convex(dense, keyword, self.alpha)
        ranked = sorted(scored, key=lambda i: -scored[i])[:depth]
        if mode == "keyword" and ranked:
            # Keyword-only hits still carry a cosine score, which the refusal decision reads.
            dense = dict(zip(ranked, self._cosines(query, ranked)))
        elif mode == "hybrid":
            missing = [i for i in ranked if i not in dense]
            if missing:
                dense.update(zip(missing, self._cosines(query, missing)))
        return self._collapse(ranked, scored, dense, keyword, k)

    def _dense(self, query: str, depth: int, allowed: list[int] | None) -> dict[int, float]:
        import numpy as np

        if self.index.meta.passages == 0 or (allowed is not None and not allowed):
            return {}
        q = np.asarray(self.embedder.embed_query(query), dtype="float32")
        return dict(self.index.dense_search(q, depth, allowed))

    def _keyword(self, query: str, depth: int, allowed: list[int] | None) -> dict[int, float]:
        return dict(self.index.keyword_search(keyword_terms(query, self.index), depth, allowed))

    def _vectors(self, ids: list[int]) -> "np.ndarray":
        return self.index.get_vectors(ids)

    def _cosines(self, query: str, ids: list[int]) -> list[float]:
        # One batched reconstruct and one matrix product: per-id calls cost milliseconds at depth.
        q = self.embedder.embed_query(query)
        return [float(x) for x in self._vectors(ids) @ q]

    def _collapse(self, ranked, scored, dense, keyword, k) -> list[Hit]:
        """Merge passages with identical or nearly identical text into one hit listing every source."""
        if not ranked:
            return []
        passages = self.index.passages(ranked)
        present = [pid for pid in ranked if pid in passages]
        if not present:
            return []
        vectors = self._vectors(present)
        # Pairwise cosines of all candidates at once; the loop below only reads the matrix.
        similar = vectors @ vectors.T >= NEAR_DUPLICATE
        groups: list[list[int]] = []
        group_of_key: dict[str, int] = {}
        heads: list[int] = []  # row of each group's first member
        for row, pid in enumerate(present):
            key = passages[pid].key
            if key in group_of_key:
                groups[group_of_key[key]].append(pid)
                continue
            near = next((g for g, head in enumerate(heads) if similar[head, row]), None)
            if near is not None:
                groups[near].append(pid)
                group_of_key[key] = near
                continue
            group_of_key[key] = len(groups)
            groups.append([pid])
            heads.append(row)
        hits = []
        for members in groups[:k]:
            head = members[0]
            also = tuple(sorted((passages[m] for m in members[1:]), key=lambda p: (p.source, p.paragraph)))
            hits.append(Hit(passages[head], float(scored[head]), float(dense.get(head, 0.0)), float(keyword.get(head, 0.0)), also))
        return hits


def fuse_rrf(dense: dict[int, float], keyword: dict[int, float], k: int = RRF_K) -> dict[int, float]:
    """Reciprocal rank fusion: robust to the two retrievers' incomparable score scales."""
    fused: dict[int, float] = {}
    for scores in (dense, keyword):
        for rank, pid in enumerate(sorted(scores, key=lambda i: -scores[i]), start=1):
            fused[pid] = fused.get(pid, 0.0) + 1.0 / (k + rank)
    return fused


def fuse_convex(dense: dict[int, float], keyword: dict[int, float], alpha: float = 0.5) -> dict[int, float]:
    """alpha * min-max(dense) + (1 - alpha) * min-max(keyword); missing scores count as the minimum."""

    def norm(scores: dict[int, float]) -> dict[int, float]:
        if not scores:
            return {}
        lo, hi = min(scores.values()), max(scores.values())
        span = (hi - lo) or 1.0
        return {i: (s - lo) / span for i, s in scores.items()}

    d, kw = norm(dense), norm(keyword)
    return {i: alpha * d.get(i, 0.0) + (1 - alpha) * kw.get(i, 0.0) for i in set(d) | set(kw)}
