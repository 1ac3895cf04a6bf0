"""What a chat message asks for beyond a plain question: an overview, or more of what was just said.

Nearest prototype with the embedder the index already uses: a message is compared with a few example
phrasings of each intent and of ordinary questions, so paraphrases ("sum up the news", "keep going")
are recognised without a list of trigger words. For a fresh question the vector is the one retrieval
needs anyway (the embedder caches it), so this costs nothing on the question path.
Thresholds chosen on tests/data/intents_dev.jsonl (docs/evaluation.md, "Intents").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Intent = Literal["question", "summary", "more"]

PROTOTYPES: dict[str, tuple[str, ...]] = {
    "summary": (
        "Summarize the articles.",
        "What is this about?",
        "What are these articles about?",
        "Give me an overview.",
        "Give me an overview of the news.",
        "Give me a summary.",
        "Give me the highlights.",
        "What is the news?",
        "Give me an overview of the country's diplomacy.",
        "Summarize what the articles say about the talks.",
    ),
    "more": (
        "Tell me more.",
        "What did he say next?",
        "What did she say next?",
        "And then?",
        "What happened next?",
        "Go on.",
        "Continue.",
        "Anything else?",
    ),
    "question": (
        "Where did the ministers meet?",
        "Who is the spokesperson?",
        "What did the president say about the talks?",
        "When did the meeting take place?",
        "Why does the country want to mediate?",
        "How many soldiers were there?",
        "What is the capital of the country?",
        "Which company released the product?",
        "Who won the election?",
        "What did the minister say about sanctions?",
        "Is the government planning new talks?",
        "What is the article's main claim about the economy?",
    ),
}


@dataclass
class IntentDetector:
    embedder: object
    min_similarity: float = 0.50  # the nearest intent prototype must be at least this close
    margin: float = 0.05  # and this much closer than the nearest ordinary question
    _vectors: dict = field(default_factory=dict)

    def _prototypes(self):
        if not self._vectors:
            for intent, texts in PROTOTYPES.items():
                self._vectors[intent] = self.embedder.embed(list(texts))
        return self._vectors

    def scores(self, message: str) -> dict[str, float]:
        """The cosine of the message with its nearest prototype of each intent."""
        import numpy as np

        embed_query = getattr(self.embedder, "embed_query", None)
        q = embed_query(message) if embed_query else self.embedder.embed([message])[0]
        q = np.asarray(q, dtype="float32")
        return {intent: float(np.max(v @ q)) for intent, v in self._prototypes().items()}

    def detect(self, message: str) -> Intent:
        s = self.scores(message)
        best = max(("summary", "more"), key=lambda i: s[i])
        if s[best] >= self.min_similarity and s[best] - s["question"] >= self.margin:
            return best  # type: ignore[return-value]
        return "question"
