"""Plain text and Markdown: decoded and cleaned; lines are the file's own lines."""

from __future__ import annotations

from ..text import clean_text, decode_bytes, looks_binary
from . import Extracted, Limits, Unreadable


def extract(data: bytes, limits: Limits = Limits()) -> Extracted:
    if not data.strip():
        raise Unreadable("empty file")
    if looks_binary(data):
        raise Unreadable("binary file (contains NUL bytes)")
    text = clean_text(decode_bytes(data))
    if not text.strip():
        raise Unreadable("no readable text")
    return Extracted("text", text)
