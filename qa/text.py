"""Text hygiene and small language helpers: decoding, cleaning, sentences, content words."""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache

# Terminal escape sequences: CSI (ESC [ ... final), OSC (ESC ] ... BEL or ESC \), and two-byte ESC forms.
_ANSI = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC, terminated or not
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"  # DCS/SOS/PM/APC strings
    r"|\x1b[@-Z\\-_]"  # other 2-byte escapes
    r"|\x9b[0-?]*[ -/]*[@-~]"  # 8-bit CSI
)
# C0 controls except tab and newline, DEL, C1 controls.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_SURROGATE = re.compile("[\ud800-\udfff]")


def decode_bytes(data: bytes) -> str:
    """Decode file bytes: UTF-8 (BOM or not), UTF-16 with BOM, else Windows-1252/Latin-1.

    Legacy 8-bit files are common among saved articles; decoding them as cp1252 gives the
    right curly quotes and accented letters where a lossy UTF-8 decode would give mojibake.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8", errors="replace")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # cp1252 leaves five bytes undefined; map those through Latin-1 so nothing is lost.
    return "".join(
        chunk.decode("cp1252", errors="strict") if ok else chunk.decode("latin-1")
        for ok, chunk in _cp1252_chunks(data)
    )


_CP1252_UNDEFINED = {0x81, 0x8D, 0x8F, 0x90, 0x9D}


def _cp1252_chunks(data: bytes):
    start = 0
    for i, byte in enumerate(data):
        if byte in _CP1252_UNDEFINED:
            if i > start:
                yield True, data[start:i]
            yield False, data[i : i + 1]
            start = i + 1
    if start < len(data):
        yield True, data[start:]


def looks_binary(data: bytes) -> bool:
    """NUL bytes mean binary, unless the file is UTF-16 (which has a BOM)."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return False
    return b"\x00" in data[:65536]


def clean_text(text: str) -> str:
    """Normalise newlines and drop terminal escapes and control characters (keeps tab and newline)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _ANSI.sub("", text)
    return _CONTROL.sub("", text)


def strip_controls(text: str) -> str:
    """For one-line display of any string (questions, file names): no escapes, no controls. Bytes that were not
    UTF-8 (command-line arguments and file names arrive with them as lone surrogates, which can be neither
    printed nor tokenized) become the replacement character."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", _ANSI.sub("", text)))


def text_hash(text: str) -> str:
    """Content key of a passage: identical text is embedded once and reused everywhere."""
    normal = " ".join(unicodedata.normalize("NFC", text).split())
    return hashlib.sha1(normal.encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- sentences

_ABBREVIATIONS = {
    "mr", "mrs", "ms", "dr", "prof", "sr", "jr", "st", "mt", "gen", "col", "lt", "sgt", "capt", "gov",
    "sen", "rep", "pres", "rev", "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct",
    "nov", "dec", "no", "vs", "etc", "inc", "ltd", "co", "corp", "e.g", "i.e", "u.s", "u.k", "u.n",
    "approx", "dept", "est", "fig", "al",
}
# A boundary: sentence punctuation, optional closing quotes/brackets, whitespace, then an opener.
_BOUNDARY = re.compile(r"[.!?…]+[\"'”’)\]]*\s+(?=[\"'“‘(\[]?[A-Z0-9\u00C0-\u024F\u0400-\u04FF])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Split text into sentences; returns (start, end) character spans, whitespace trimmed.

    A line break always ends a sentence: headlines and captions carry no full stop.
    """
    spans: list[tuple[int, int]] = []
    offset = 0
    for line in text.split("\n"):
        spans.extend((offset + a, offset + b) for a, b in _line_sentence_spans(line))
        offset += len(line) + 1
    return spans


def _line_sentence_spans(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    start = 0
    for match in _BOUNDARY.finditer(text):
        end = match.end()
        # The word before the full stop: do not split after "Mr." or "Feb." or an initial "J.".
        before = text[start : match.start() + 1].rstrip(".!?…\"'”’)]")
        last_word = re.split(r"\s+", before)[-1].lower() if before else ""
        if text[match.start()] == "." and (
            last_word.rstrip(".") in _ABBREVIATIONS or (len(last_word) == 1 and last_word.isalpha())
        ):
            continue
        if _inside_quote(text[start : match.end()]):
            continue
        spans.append(_trim(text, start, end))
        start = end
    if start < len(text):
        spans.append(_trim(text, start, len(text)))
    return [s for s in spans if s[1] > s[0]]


# A quotation stays one sentence: "We will talk. We will not give up," he said. Past this length an open
# quote is taken as unclosed (news prints multi-paragraph quotes without a closing mark) and splitting resumes.
MAX_QUOTED_SENTENCE = 400


def _inside_quote(segment: str) -> bool:
    """Whether the sentence so far has an open double quotation (curly or straight; apostrophes are ambiguous)."""
    if len(segment) > MAX_QUOTED_SENTENCE:
        return False
    if segment.count("\u201c") > segment.count("\u201d"):
        return True
    return segment.count('"') % 2 == 1


def _trim(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end


def split_sentences(text: str) -> list[str]:
    return [text[a:b] for a, b in sentence_spans(text)]


# ---------------------------------------------------------------- words

_WORD = re.compile(r"\w+", re.UNICODE)
STOPWORDS = frozenset(
    """a about above after again against all am an and any are aren't as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those
    through to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself yourselves said says say also did does according
    whose s t didn doesn isn wasn weren wouldn shouldn couldn ll re ve d m o y""".split()
)
# "won't" and "don't" would leave "won" and "don", real words ("Who won the election?", the river Don), so a
# negation is spelt out before splitting rather than its pieces being dropped as stopwords.
_NEGATION = re.compile(r"\b(\w+?)n[’']t\b")
_IRREGULAR = {"wo": "will", "ca": "can", "ai": "is", "sha": "shall"}  # won't, can't, ain't, shan't


def _spell_out(m: re.Match) -> str:
    return _IRREGULAR.get(m.group(1), m.group(1)) + " not"


def words(text: str) -> list[str]:
    """Lower-cased word tokens, accents folded so 'Erdoğan' matches 'Erdogan'."""
    # "İ" lower-cases to "i" plus a combining dot, which would split "İstanbul" into "i" and "stanbul".
    text = text.replace("İ", "I").lower()
    if "n'" in text or "n’" in text:
        text = _NEGATION.sub(_spell_out, text)
    return [_fold(w) for w in _WORD.findall(text)]


def _fold(word: str) -> str:
    if word.isascii():
        return word
    decomposed = unicodedata.normalize("NFKD", word)
    folded = "".join(c for c in decomposed if not unicodedata.combining(c))
    return folded.replace("ı", "i")


@lru_cache(maxsize=65536)  # pure, and called for every word of every passage an answer reads
def stem(word: str) -> str:
    """A light suffix stripper: enough to match 'talks'/'talk', 'opposes'/'oppose', 'agreed'/'agree'."""
    if len(word) <= 3 or word.isdigit():
        return word
    for suffix in ("ingly", "edly", "ing", "ies", "ied", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "s" and word.endswith("ss"):
                break  # "mass", "press" are not plurals
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            word = base
            break
    # A final silent e and a doubled final consonant vary with the suffix: "hope"/"hoped", "plan"/"planned".
    if len(word) > 3 and word.endswith("e"):
        word = word[:-1]
    if len(word) > 4 and word[-1] == word[-2] and word[-1] not in "aeiouls":
        word = word[:-1]
    return word


def content_terms(text: str) -> list[str]:
    """Stemmed content words: the question's and passages' vocabulary for lexical evidence."""
    return [stem(w) for w in words(text) if w not in STOPWORDS and (len(w) > 1 or w.isdigit())]


def estimate_wordpieces(text: str) -> int:
    """A conservative upper estimate of the model tokenizer's length, without loading it.

    WordPiece splits rare and long words into several pieces; punctuation is one piece each.
    """
    total = 0
    for token in re.findall(r"\w+|[^\w\s]", text):
        if not token[0].isalnum() and token[0] != "_":
            total += 1
        elif token.isascii():
            total += 1 if len(token) <= 7 else (len(token) + 3) // 4
        else:
            total += max(1, (len(token) + 1) // 2)
    return total
