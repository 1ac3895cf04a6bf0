"""Answers that are not read off a question: "tell me more" (what the cited article says next) and an
overview (the lead sentence of each of the most relevant articles). Every sentence stays verbatim and cited.
"""

from __future__ import annotations

from .answer import Answer, AnswerSentence, Answerer, Citation, sentence_key
from .documents import Passage
from .retrieval import Hit
from .text import sentence_spans

SUMMARY_PASSAGES = 20  # passages retrieved to find the most relevant articles
SUMMARY_ARTICLES = 5
LEAD_WINDOW = 3  # early passages an article's lead sentence is chosen from
MORE_SENTENCES = 2


def _cited(question: str, picks: list[tuple[Passage, int, int, float]], query: str) -> Answer:
    """An answer from (passage, start, end, score) picks, in the given order, one citation per passage."""
    numbers: dict[tuple[str, int], int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    passages: dict[int, tuple[Passage, float]] = {}
    sentences = []
    for passage, start, end, score in picks:
        key = (passage.source, passage.paragraph)
        if key not in numbers:
            numbers[key] = len(numbers) + 1
            passages[numbers[key]] = (passage, score)
        n = numbers[key]
        spans.setdefault(n, []).append((start, end))
        sentences.append(AnswerSentence(passage.text[start:end], n))
    citations = tuple(Citation(n, p, score, tuple(sorted(spans[n]))) for n, (p, score) in passages.items())
    hits = tuple(Hit(p, score, score, 0.0) for p, score in passages.values())
    return Answer(question, bool(sentences), tuple(sentences), citations, hits, query, 1.0 if sentences else 0.0)


def continue_answer(question: str, last: Answer, index, shown: set, answerer: Answerer) -> Answer:
    """The sentences that follow the last answer's leading sentence in its article, none shown before."""
    lead = last.citations[0]
    after = max((b for _, b in lead.sentences), default=0)
    article = sorted(index.passages_of(lead.passage.source), key=lambda p: p.paragraph)
    picks: list[tuple[Passage, int, int, float]] = []
    used = 0
    for passage in article:
        if passage.paragraph < lead.passage.paragraph:
            continue
        for start, end in sentence_spans(passage.text):
            if passage.paragraph == lead.passage.paragraph and start < after:
                continue
            if sentence_key(passage, start) in shown or len(passage.text[start:end].split()) < answerer.min_words:
                continue
            if picks and used + end - start > answerer.max_chars:
                break
            picks.append((passage, start, end, lead.score))
            used += end - start
            if len(picks) >= MORE_SENTENCES:
                return _cited(question, picks, last.query)
    if picks:
        return _cited(question, picks, last.query)
    # The article ends here: say so as a refusal that points at the article.
    hits = tuple(Hit(lead.passage, lead.score, lead.score, 0.0) for _ in (0,))
    return Answer(question, False, (), (Citation(1, lead.passage, lead.score),), hits, last.query, 0.0)


def summarize(question: str, hits: list[Hit], index, answerer: Answerer) -> Answer:
    """The lead sentence of each of the most relevant articles (by their best passage), duplicates collapsed."""
    picks: list[tuple[Passage, int, int, float]] = []
    seen_sources: set[str] = set()
    seen_text: set[str] = set()
    for hit in hits:
        source = hit.passage.source
        if source in seen_sources:
            continue
        seen_sources.update(hit.sources)  # a wire copy elsewhere is the same article
        article = sorted(index.passages_of(source), key=lambda p: p.paragraph)
        lead = _lead_sentence(article, answerer.min_words, index)
        if lead is None:
            continue
        passage, start, end = lead
        text = " ".join(passage.text[start:end].lower().split())
        if text in seen_text:
            continue
        seen_text.add(text)
        picks.append((passage, start, end, hit.dense))
        if len(picks) >= SUMMARY_ARTICLES:
            break
    return _cited(question, picks, question)


def _lead_sentence(article: list[Passage], min_words: int, index=None) -> tuple[Passage, int, int] | None:
    """The first full sentence (a headline or a dateline fragment is not one) of the article's most central
    early passage: of the first LEAD_WINDOW passages that hold one, the closest to the article's mean vector.
    A news page often opens with a photo caption, which is about a picture, not what the article reports."""
    early: list[tuple[Passage, int, int]] = []
    for passage in article:
        for start, end in sentence_spans(passage.text):
            sentence = passage.text[start:end]
            if len(sentence.split()) >= min_words and sentence.rstrip()[-1:] in ".!?\"'”’":
                early.append((passage, start, end))
                break
        if len(early) >= LEAD_WINDOW:
            break
    if len(early) <= 1 or index is None:
        return early[0] if early else None
    centrality = _centrality(article, [p for p, _, _ in early], index)
    return early[max(range(len(early)), key=lambda i: (centrality[i], -i))] if centrality else early[0]


def _centrality(article: list[Passage], candidates: list[Passage], index) -> list[float] | None:
    """Cosine of each candidate passage's vector to the article's mean vector (None if vectors are missing)."""
    import numpy as np

    ids = index.ids_with_key(sorted({p.key for p in article}))
    if any(p.key not in ids for p in article):
        return None
    vectors = index.get_vectors([ids[p.key][0] for p in article])
    mean = vectors.mean(axis=0)
    norm = float(np.linalg.norm(mean))
    if not norm:
        return None
    row = {p.paragraph: i for i, p in enumerate(article)}
    return [float(vectors[row[p.paragraph]] @ mean) / norm for p in candidates]
