"""What the reader reads: one (question, candidate) pair, laid out the same in training and at answer time."""

from __future__ import annotations

MAX_TOKENS = 64  # question + sentence + title; longer pairs lose the title first, then the longer side


def candidate_text(sentence: str, title: str = "") -> str:
    """The second segment: the sentence first (truncation cuts the title before the sentence)."""
    title = " ".join(title.split())
    return f"{sentence} | {title}" if title else sentence
