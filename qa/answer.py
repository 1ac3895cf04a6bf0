"""Answerer: an extractive answer whose every sentence is verbatim from the passage it cites.

Sentences of the top passages are ranked against the question (not only whole passages); the best
leads, others that add question words follow. When the evidence is weak, the answer says plainly
that the articles do not contain it, and the nearest passages are listed as such.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from .documents import Passage
from .retrieval import Hit
from .lexicon import canonical, evidence_terms, holds, question_terms
from .shapes import _outside, answer_shape, lacks_requested, shape_bonus  # noqa: F401 (re-exported)
from .text import sentence_spans


@dataclass(frozen=True)
class Citation:
    n: int
    passage: Passage
    score: float
    sentences: tuple[tuple[int, int], ...] = ()  # spans in passage.text used in the answer
    also: tuple[Passage, ...] = ()  # identical text elsewhere

    @property
    def label(self) -> str:
        return self.passage.citation

    def to_dict(self) -> dict:
        p = self.passage
        return {
            "n": self.n,
            "source": p.source,
            "paragraph": p.paragraph,
            "line_start": p.line_start,
            "line_end": p.line_end,
            "score": round(self.score, 4),
            "text": p.text,
            "title": p.title,
            "date": p.date,
            "page": p.page,  # PDF page of the passage; null for other kinds
            "also_in": [f"{a.source}:{a.line_start}-{a.line_end}" for a in self.also],
        }


@dataclass(frozen=True)
class AnswerSentence:
    text: str
    citation: int  # n of the citation it comes from


@dataclass(frozen=True)
class Answer:
    question: str
    found: bool
    sentences: tuple[AnswerSentence, ...]
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]  # everything retrieved, best first (the eval scores these)
    query: str = ""  # what was searched (the question, with context for a follow-up)
    confidence: float = 0.0

    @property
    def text(self) -> str:
        if not self.found:
            return NOT_FOUND
        return " ".join(f"{s.text} [{s.citation}]" for s in self.sentences)

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "found": self.found,
            "citations": [c.to_dict() for c in self.citations],
        }


NOT_FOUND = "The articles do not contain an answer to this question."

@dataclass
class Evidence:
    """What the refusal decision reads."""

    dense: float  # best cosine among the hits
    coverage: float  # share of the question's content-word weight found in the best passage (with its title)


@dataclass
class Answerer:
    max_sentences: int = 3
    max_chars: int = 600
    # Chosen on the development data (tests/data/questions_dev.jsonl and SQuAD 2.0 dev, README "Refusal");
    # the scored question set is only measured. Coverage separates best: on-topic questions the articles
    # cannot answer share the topic (high cosine) but not the specific words.
    min_dense: float = 0.25
    min_coverage: float = 0.40
    # A question asking for a quantity is answered only by a sentence that holds one:
    # "How many drones has Turkey sold?" is not answered by "Turkey has sold drones to Ukraine."
    require_shape: bool = True
    own_terms_checked: int = 3
    min_own_coverage: float = 0.25
    idf: dict[str, float] = field(default_factory=dict)
    min_words: int = 4  # shorter sentences are captions and fragments
    shapes: bool = True  # the answer-shape bonus in the rule score
    use_coverage: bool = True  # the coverage refusal rule (min_dense, min_coverage)
    # The reader (qa.reader.Reader, or anything with its `scores`); None: today's rules alone.
    reader: object | None = None
    reader_candidates: int = 24  # the best sentences by the rule score that the reader reads
    rule_weight: float = 1.0  # combined score: reader logit + rule_weight * rule score
    min_logit: float = 0.0  # refusal: the leading sentence's reader logit below this
    extra_logit: float = 1.0  # a second or third sentence must score this as an answer

    def weights(self, question: str, context_terms: list[str] | None = None) -> dict[str, float]:
        """IDF weight of each question term; words carried over from the previous turn count half."""
        weights: dict[str, float] = {}
        for s, term in question_terms(question):
            weights[term] = max(weights.get(term, 0.0), self.idf.get(s, 1.0))
        for s in context_terms or []:
            weights.setdefault(canonical(s), 0.5 * self.idf.get(s, 1.0))
        return weights

    def evidence(self, weights: dict[str, float], hits: list[Hit]) -> Evidence:
        if not hits:
            return Evidence(0.0, 0.0)
        best_dense = max(h.dense for h in hits)
        total = sum(weights.values()) or 1.0
        coverage = 0.0
        for hit in hits:
            have = evidence_terms(hit.passage.text + " " + hit.passage.title)
            coverage = max(coverage, sum(w for t, w in weights.items() if holds(t, have)) / total)
        return Evidence(best_dense, coverage)

    def is_answerable(self, ev: Evidence) -> bool:
        return ev.dense >= self.min_dense and ev.coverage >= self.min_coverage

    def _stands_on_its_own_words(self, question: str, context_terms: list[str] | None, hits: list[Hit]) -> bool:
        """A follow-up that says a lot of its own ("What did he say about the ministers' meeting?") must find
        some of it in the passages: the earlier turn's words alone would answer the earlier question again.
        Short follow-ups ("On which day?") lean on the context by nature and are exempt."""
        if not context_terms:
            return True
        own = self.weights(question)
        if len(own) < self.own_terms_checked:
            return True
        return self.evidence(own, hits).coverage >= self.min_own_coverage

    def candidates(self, question: str, hits: list[Hit], weights: dict[str, float], shown: frozenset = frozenset()) -> list["Candidate"]:
        """Every sentence of the retrieved passages not yet shown in this chat, with its rule score, best first.

        The rule score: passage relevance (dense and keyword) carries most of the weight, the question's
        words and the kind of answer asked for pick the sentence.
        """
        total = sum(weights.values()) or 1.0
        top = max(h.dense for h in hits) or 1.0
        top_kw = max(h.keyword for h in hits) or 1.0
        shape = answer_shape(question) if self.shapes else None
        out = []
        for rank, hit in enumerate(hits):
            text = hit.passage.text
            # The headline, where a page's extraction keeps it at the top of the first passage, is shown with
            # every citation already; it names the story, and does not answer a question about it.
            headline = _plain(hit.passage.title)
            for start, end in sentence_spans(text):
                sentence = text[start:end]
                if len(sentence.split()) < self.min_words or (headline and _plain(sentence) == headline):
                    continue
                have = evidence_terms(sentence)
                covered = frozenset(t for t in weights if holds(t, have))
                overlap = sum(weights[t] for t in covered) / total
                score = overlap + 0.8 * (hit.dense / top) + 0.3 * (hit.keyword / top_kw) - 0.05 * rank
                score += shape_bonus(shape, _outside(sentence, weights))
                out.append(Candidate(rank, start, end, score, covered, seen=sentence_key(hit.passage, start) in shown))
        out.sort(key=lambda c: -c.rule)
        return out

    def compose(
        self,
        question: str,
        hits: list[Hit],
        query: str = "",
        context_terms: list[str] | None = None,
        shown: frozenset = frozenset(),
        reader_question: str | None = None,
        lead_must_hold: str | None = None,
    ) -> Answer:
        """The answer to `question` from `hits`. A sentence in `shown` (sentence_key) may lead again when it is the
        best answer to this new question (measured: excluding it cost the conversations their answers), but is
        never added as a second or third sentence."""
        weights = self.weights(question, context_terms)
        ev = self.evidence(weights, hits)
        if not hits or (self.use_coverage and not self.is_answerable(ev)) or not self._stands_on_its_own_words(question, context_terms, hits):
            return _refusal(question, hits, query, ev)
        candidates = self.candidates(question, hits, weights, shown)
        if not candidates:
            return _refusal(question, hits, query, ev)
        if self.reader is not None:
            chosen, confidence = self._read(reader_question or question, hits, candidates)
            if not chosen:
                return _refusal(question, hits, query, ev, confidence)
        else:
            chosen, confidence = self._by_rules(candidates, hits), ev.dense
        if lead_must_hold and not _holds_all(hits[chosen[0].rank].passage.text[chosen[0].start : chosen[0].end], lead_must_hold):
            return _refusal(question, hits, query, ev, confidence)
        # Only quantities and named kinds of date: a bare "when" is answered in too many forms (centuries,
        # seasons, "during the war").
        if self.require_shape and lacks_requested(question, [hits[c.rank].passage.text[c.start : c.end] for c in chosen], weights):
            return _refusal(question, hits, query, ev, confidence)
        return _answer(question, hits, query, chosen, confidence)

    def _by_rules(self, candidates: list["Candidate"], hits: list[Hit]) -> list["Candidate"]:
        """Today's rules alone (no reader): follow-on sentences must add question words not yet covered."""
        chosen = [candidates[0]]
        covered = set(candidates[0].covered)
        used = candidates[0].end - candidates[0].start
        for cand in candidates[1:]:
            if len(chosen) >= self.max_sentences:
                break
            length = cand.end - cand.start
            if cand.seen or not (cand.covered - covered) or used + length > self.max_chars or cand.rule < chosen[0].rule * 0.6:
                continue
            chosen.append(cand)
            covered |= cand.covered
            used += length
        return chosen

    def _read(self, question: str, hits: list[Hit], candidates: list["Candidate"]) -> tuple[list["Candidate"], float]:
        """The reader scores the best candidates by the rules; the best combined score leads when the reader
        holds it for an answer, and others follow only when they too score as answers."""
        pool = candidates[: self.reader_candidates]
        logits = self.reader.scores(question, [(hits[c.rank].passage.text[c.start : c.end], hits[c.rank].passage.title) for c in pool])
        scored = [Candidate(c.rank, c.start, c.end, c.rule, c.covered, r, c.seen) for c, r in zip(pool, logits)]
        scored.sort(key=lambda c: -(c.reader + self.rule_weight * c.rule))
        best = scored[0]
        if best.reader < self.min_logit:
            return [], best.reader
        chosen = [best]
        used = best.end - best.start
        for cand in scored[1:]:
            if len(chosen) >= self.max_sentences:
                break
            length = cand.end - cand.start
            if cand.seen or cand.reader < max(self.extra_logit, self.min_logit) or used + length > self.max_chars:
                continue
            chosen.append(cand)
            used += length
        return chosen, best.reader


@dataclass(frozen=True)
class Candidate:
    rank: int  # of the hit whose passage holds the sentence
    start: int  # span in that passage's text
    end: int
    rule: float  # the rule score (word overlap, passage relevance, answer shape)
    covered: frozenset[str]  # question terms the sentence holds
    reader: float = 0.0  # the reader's logit, once read
    seen: bool = False  # already shown in this chat: it may lead again (it answers), never follow


def _holds_all(sentence: str, words_: str) -> bool:
    have = evidence_terms(sentence)
    return all(holds(t, have) for t in evidence_terms(words_))


def _plain(text: str) -> str:
    return " ".join(text.split()).strip(" .:;-–—").lower()


def sentence_key(passage: Passage, start: int) -> tuple[str, int]:
    """Where a sentence is in its article: the same sentence in any later answer has the same key."""
    return (passage.source, passage.char_start + start)


def shown_keys(answer: Answer) -> set[tuple[str, int]]:
    return {sentence_key(c.passage, a) for c in answer.citations for a, _ in c.sentences}


def _answer(question: str, hits: list[Hit], query: str, chosen: list[Candidate], confidence: float) -> Answer:
    # Lead with the best sentence; keep the rest in reading order (article, then position).
    ordered = [chosen[0]] + sorted(chosen[1:], key=lambda c: (c.rank, c.start))
    numbers: dict[int, int] = {}
    spans: dict[int, list[tuple[int, int]]] = {}
    sentences = []
    for c in ordered:
        if c.rank not in numbers:
            numbers[c.rank] = len(numbers) + 1
        spans.setdefault(c.rank, []).append((c.start, c.end))
        sentences.append(AnswerSentence(hits[c.rank].passage.text[c.start : c.end], numbers[c.rank]))
    citations = tuple(
        Citation(n, hits[rank].passage, hits[rank].dense, tuple(sorted(spans[rank])), hits[rank].also)
        for rank, n in sorted(numbers.items(), key=lambda kv: kv[1])
    )
    return Answer(question, True, tuple(sentences), citations, tuple(hits), query or question, confidence)


def _refusal(question: str, hits: list[Hit], query: str, ev: Evidence, confidence: float | None = None) -> Answer:
    """A refusal ("not in the articles") that lists the nearest passages as such."""
    nearest = sorted(hits[:3], key=lambda h: -h.dense)  # listed closest first, by the score shown beside each
    cites = tuple(Citation(n, h.passage, h.dense, (), h.also) for n, h in enumerate(nearest, start=1))
    return Answer(question, False, (), cites, tuple(hits), query or question, ev.dense if confidence is None else confidence)


def idf_weights(doc_freq: dict[str, int], n_docs: int) -> dict[str, float]:
    return {t: math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) for t, df in doc_freq.items()}
