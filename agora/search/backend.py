"""The search engine behind one small interface, chosen by the SEARCH_BACKEND setting.

Whoosh's embedded indexes (agora.search.whoosh_backend) serve one machine. A bigger install
(several app hosts sharing a PostgreSQL database) wants the database's own full-text search: it
implements `Backend` and is named in BACKENDS, and tests/test_search_backends.py runs the same
contract against it.

What stays out of a backend is what keeps search safe and is the same whatever the engine: which
spaces and modules a person may search (agora.search.services), what an item's entry holds
(agora.core.registry), when an item is written (agora.search.indexing, after its commit), and the
reloading of every hit from the database with the page's own rules. A backend only narrows down.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from flask import Flask, current_app

from agora.core.registry import Entry

#: The engines Agora knows, by the name SEARCH_BACKEND gives.
BACKENDS = {"whoosh": "agora.search.whoosh_backend:WhooshBackend"}
EXTENSION = "agora.search.backend"


@dataclass(frozen=True)
class Hit:
    """One item a search found, in the order of relevance."""

    kind: str
    object_id: int
    space_id: int
    date: datetime | None
    #: HTML: a few words around the matches, each match in <mark class="match">, the rest escaped.
    excerpt: str


class Backend(Protocol):
    def prepare(self) -> None:
        """Make the indexes current (built from the database if missing or from an older version):
        called before a server's workers start, so that no request pays for it."""

    def is_built(self) -> bool:
        """Whether anything was ever indexed on this instance (`agora init` builds it otherwise)."""

    def reset(self) -> None:
        """Forget every entry, before a whole rebuild."""

    def replace_space(self, space_id: int, entries: Iterable[Entry]) -> int:
        """Make these entries a space's whole content; return how many were written."""

    def write(self, space_id: int, entries: dict[str, Entry | None]) -> None:
        """Write a space's changed entries by key: an Entry replaces the key's, None removes it."""

    def forget_space(self, space_id: int) -> None:
        """Remove everything of a deleted space."""

    def parse(self, text: str):
        """The query for what a person typed (one line, at most services.MAX_QUERY characters).
        Raises ServiceError with a message for them when it cannot be searched."""

    def find(self, query, shown: dict[int, tuple[str, ...] | None], *, skip: int, limit: int) -> tuple[list[Hit], bool]:
        """The hits ranked skip + 1 to skip + limit for a parsed query, the best first, and whether
        more come after them. Only in the spaces of `shown`, and in each only the modules it gives
        (None: every module). Titles come before bodies, the words as typed before their other
        forms, and entries of equal relevance the nearest to today first (the most recent of what was
        written, the soonest of what is planned)."""


def init_app(app: Flask) -> None:
    from agora.config import ConfigError

    name = app.config.get("SEARCH_BACKEND", "whoosh")
    if name not in BACKENDS:
        raise ConfigError(f"SEARCH_BACKEND must be one of {', '.join(sorted(BACKENDS))}, not {name!r}.")
    module, attribute = BACKENDS[name].split(":")
    app.extensions[EXTENSION] = getattr(importlib.import_module(module), attribute)()


def backend() -> Backend:
    """The application's search engine."""
    return current_app.extensions[EXTENSION]
