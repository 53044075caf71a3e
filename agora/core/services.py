"""What every service shares: the error it raises for refused input, the cleaning of one-line text."""

from __future__ import annotations

import re
import unicodedata

_ASCII_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
#: Unicode categories shown as a space in a one-line text: controls, line and paragraph separators.
_BREAKS = frozenset({"Cc", "Zl", "Zp"})
#: Invisible format characters (category Cf) that are kept: the joiners Persian words and emoji
#: sequences need. The others (bidi overrides, isolates and marks, zero-width spaces, the BOM, the
#: soft hyphen...) are dropped.
_JOINERS = frozenset("\u200c\u200d")


class ServiceError(Exception):
    """Input refused by a service; `message` is shown to the person, `status` is the HTTP answer.

    `field` names the form field at fault, when there is one.
    """

    def __init__(self, message, field: str | None = None, status: int = 400):
        super().__init__(message)
        self.message = message
        self.field = field
        self.status = status


def one_line(text: str | None) -> str:
    """Return text as a single trimmed line, for every title and name shown or stored.

    Control characters (newlines, NUL) and line separators become spaces; invisible format
    characters are dropped, so that a right-to-left override cannot make
    "Council \u202eevitceffe\u202c news" read "Council effective news". The result is in NFC.
    """
    text = text or ""
    if text.isascii():
        return " ".join(_ASCII_CONTROL.sub(" ", text).split())
    kept = []
    for char in unicodedata.normalize("NFC", text):
        category = unicodedata.category(char)
        if category in _BREAKS:
            kept.append(" ")
        elif category != "Cf" or char in _JOINERS:
            kept.append(char)
    return " ".join("".join(kept).split())


def spreadsheet_cell(text: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula (=, +, -, @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def contains_pattern(text: str) -> str:
    """Return a LIKE pattern (escape character "\\") matching values that contain text literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
