"""What every service shares: the error it raises for refused input."""
from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


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
    """Return text as a single trimmed line: control characters (newlines, NUL) become spaces."""
    return " ".join(_CONTROL.sub(" ", text or "").split())


def spreadsheet_cell(text: str) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula (=, +, -, @)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def contains_pattern(text: str) -> str:
    """Return a LIKE pattern (escape character "\\") matching values that contain text literally."""
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
