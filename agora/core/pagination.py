"""Keyset-free, count-free pagination: one query per page, whatever the table size."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from sqlalchemy import Select

from agora.extensions import db


@dataclass
class Page:
    items: list[Any]
    number: int
    has_next: bool

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def page_number(arg: str = "page") -> int:
    """Return the page asked for in the query string; bad values give page 1."""
    raw = request.args.get(arg, "1")
    return int(raw) if raw.isascii() and raw.isdigit() and 0 < int(raw) < 100_000 else 1


def paginate(stmt: Select, per_page: int, number: int | None = None, scalars: bool = True) -> Page:
    """Run stmt for one page, fetching one extra row to know whether another page follows."""
    number = number or page_number()
    stmt = stmt.limit(per_page + 1).offset((number - 1) * per_page)
    result = db.session.scalars(stmt) if scalars else db.session.execute(stmt)
    rows = list(result.all())
    return Page(items=rows[:per_page], number=number, has_next=len(rows) > per_page)
