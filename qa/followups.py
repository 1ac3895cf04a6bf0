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
        lead = _lead_sentence(article, answerer.min_words)
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


def _lead_sentence(article: list[Passage], min_words: int) -> tuple[Passage, int, int] | None:
    """The article's first full sentence (a headline or a dateline fragment is not one)."""
    for passage in article:
        for start, end in sentence_spans(passage.text):
            sentence = passage.text[start:end]
            if len(sentence.split()) >= min_words and sentence.rstrip()[-1:] in ".!?\"'”’":
                return passage, start, end
    return None
