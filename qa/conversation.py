"""Conversation context: a follow-up question is searched together with the turn before it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .lexicon import question_terms
from .text import content_terms, words

# Words that point back at something said before.
_REFERRING = frozenset(
    "it its it's they them their theirs he him his she her hers this that these those there then "
    "former latter".split()
)
# Openers that continue the last turn. A short "Where did the ministers meet?" is a question of its own;
# "Why?" or "When?" alone still counts as a follow-up through the content-word rule below.
_OPENERS = re.compile(r"^\s*(and|but|also|so|what about|how about|and what)\b", re.I)


@dataclass(frozen=True)
class Turn:
    question: str
    query: str  # what was searched for this turn
    answer: str
    found: bool
    asked: str = ""  # the question as the reader read it ("and Russia?" -> "What did Russia offer?")


@dataclass
class Conversation:
    turns: list[Turn] = field(default_factory=list)
    # The topic a run of follow-ups hangs on: the question that opened it and the name its answer led
    # with. Follow-ups lean on this plus the previous question, so the query stays bounded in a long chat.
    thread: str = ""
    # Where every sentence shown in this chat is (qa.answer.sentence_key): a follow-up does not repeat them.
    shown: set = field(default_factory=set)
    last_found: object | None = None  # the last Answer that found something: "tell me more" continues it

    def clear(self) -> None:
        self.turns.clear()
        self.thread = ""
        self.shown.clear()
        self.last_found = None

    def asked_before(self, question: str) -> bool:
        """Asked again: the same words as an earlier turn (case and punctuation aside) may repeat its answer."""
        key = " ".join(words(question))
        return any(" ".join(words(t.question)) == key for t in self.turns)

    def remember(self, answer) -> None:
        from .answer import shown_keys

        if answer.found:
            self.shown |= shown_keys(answer)
            self.last_found = answer

    def reask(self, question: str) -> tuple[str, str] | None:
        """'And Russia?' after 'What did Turkey offer?': (the previous question about the new subject, the subject).

        Only a bare subject after an opener ('and', 'what about', 'how about'): a message with its own
        question word or verb is a question of its own."""
        if not self.turns:
            return None
        m = _REASK.match(question)
        if not m:
            return None
        subject = m.group(2).strip()
        tokens = words(subject)
        if not tokens or len(tokens) > 4 or any(t in _QUESTION_WORDS or t in _REFERRING for t in tokens):
            return None
        previous = self.turns[-1].asked or self.turns[-1].question
        names = list(_NAME_IN_QUESTION.finditer(previous))
        if not names:
            return None
        # The subject replaces the first name the previous question asked about (not its opening word).
        name = names[0]
        return previous[: name.start()] + subject + previous[name.end() :], subject

    def add(self, turn: Turn) -> None:
        if turn.query == turn.question:  # a fresh question opens a new thread
            name = leading_name(turn.answer) if turn.found else None
            self.thread = f"{turn.question} {name}" if name and name.lower() not in turn.question.lower() else turn.question
        self.turns.append(turn)

    @staticmethod
    def refers_back(question: str) -> bool:
        """It names something said before: "him", "it", "there", or opens with "and", "what about"."""
        return any(t in _REFERRING for t in words(question)) or bool(_OPENERS.match(question))

    def is_follow_up(self, question: str) -> bool:
        """Short questions, or ones that refer back ("When does it take place?"), lean on the last turn."""
        if not self.turns:
            return False
        tokens = words(question)
        if any(t in _REFERRING for t in tokens):
            return True
        if _OPENERS.match(question) and len(tokens) <= 6:
            return True
        # A short question that names its own subject ("Who is Kalın?") is a question of its own; "When?"
        # or "On which day?" names nothing and leans on the last turn.
        return len(content_terms(question)) <= 2 and not _NAME_IN_QUESTION.search(question)

    def contextual_query(self, question: str) -> tuple[str, list[str]]:
        """(search query, context terms).

        The thread carries the topic forward with the previous question, and the name an answer led with is
        what "him" or "it" most often means ("Who is the spokesperson?" ... "Which channel interviewed him?").
        """
        if not self.is_follow_up(question):
            return question, []
        previous = self.turns[-1]
        context = self.thread or previous.question
        if previous.question not in context:
            context = f"{context} {previous.question}"
        if previous.found and previous.query != previous.question:
            name = leading_name(previous.answer)
            if name and name.lower() not in context.lower():
                context = f"{context} {name}"
        # Read like the question's own words: the earlier question's frame ("how many") is not carried over.
        return f"{context} {question}", [s for s, _ in question_terms(context)]


_REASK = re.compile(r"^\s*(and|what about|how about)\s+(?:the\s+)?(.+?)[?.!]*\s*$", re.I)
_QUESTION_WORDS = frozenset("what who whom whose when where why how which did does do is are was were can could will would should then".split())
# A capitalised run after the question's first word: "What did *Turkey* offer?", "Where is *Ibrahim Kalın*?"
_NAME_IN_QUESTION = re.compile(r"(?<=\s)(?:[A-Z][\w\u00C0-\u024F'’-]*)(?:\s+[A-Z][\w\u00C0-\u024F'’-]*)*")

_NAME = re.compile(r"(?:[A-Z][\w\u00C0-\u024F'’-]+\s+){1,3}[A-Z][\w\u00C0-\u024F'’-]+")


def leading_name(answer: str) -> str | None:
    """The first run of two to four capitalised words in an answer, e.g. 'Presidential Spokesperson Ibrahim Kalın'."""
    m = _NAME.search(answer)
    return m.group(0) if m else None
