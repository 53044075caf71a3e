"""Read positions and visits, written shortly after the requests that move them, several at once.

Opening a space's home or a topic moves a marker forward (« nouveau depuis votre dernière
visite », « premier message non lu »). Written by the request itself, each was a write
transaction: with SQLite's single writer, someone only reading queued behind every reply being
posted (the space home's p99 reached 2 s in the soak). Here the request notes the new value in
its process, and a thread of that process writes what was noted, for everyone at once and in one
transaction, `MARKER_DELAY_MS` later. The request reads its own process's notes, so a reload
shows the marker moved; another process sees it once written.

A marker only moves forward, so a late or repeated write is harmless, and one lost with its
process (killed before the thread wrote it) costs a « nouveau » shown once more, never data.
With MARKER_DELAY_MS = 0 (the tests) the request writes its markers in its own transaction.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Hashable
from typing import Any

from flask import Flask, current_app
from sqlalchemy.exc import SQLAlchemyError

from agora.extensions import db

log = logging.getLogger(__name__)

#: Seconds before trying again when the database refused a round (busy, or away).
RETRY_AFTER = 2.0

#: kind → writes {key: value} with db.session, without committing.
_WRITERS: dict[str, Callable[[dict[Hashable, Any]], None]] = {}


def writer(kind: str):
    """Register how markers of `kind` are written (the feature that owns them does, at import)."""

    def register(fn: Callable[[dict[Hashable, Any]], None]):
        _WRITERS[kind] = fn
        return fn

    return register


class Pending:
    """The markers noted in this process and not written yet, and the thread that writes them."""

    def __init__(self):
        self.lock = threading.Lock()
        self.values: dict[tuple[str, Hashable], Any] = {}
        self.wake = threading.Event()
        self.thread: threading.Thread | None = None
        self.pid: int | None = None

    def note(self, kind: str, key: Hashable, value: Any) -> None:
        """Move the marker (kind, key) to `value`, unless it is already there or further."""
        delay = current_app.config["MARKER_DELAY_MS"] / 1000
        if delay <= 0:
            _WRITERS[kind]({key: value})
            return
        with self.lock:
            self._keep_newest((kind, key), value)
            if self.thread is None or self.pid != os.getpid() or not self.thread.is_alive():
                self._start(current_app._get_current_object(), delay)
        self.wake.set()

    def _keep_newest(self, slot: tuple[str, Hashable], value: Any) -> None:
        """(under the lock) A marker only moves forward."""
        known = self.values.get(slot)
        if known is None or known < value:
            self.values[slot] = value

    def get(self, kind: str, key: Hashable) -> Any | None:
        """The value noted for (kind, key) in this process and not written yet, or None."""
        with self.lock:
            return self.values.get((kind, key))

    def _start(self, app: Flask, delay: float) -> None:
        self.pid = os.getpid()
        self.thread = threading.Thread(target=self._run, args=(app, delay), name="agora-markers", daemon=True)
        self.thread.start()
        atexit.register(self.flush, app)

    def _run(self, app: Flask, delay: float) -> None:
        while True:
            self.wake.wait()
            time.sleep(delay)  # what the next requests note goes in the same transaction
            self.wake.clear()
            if self.flush(app) < 0:
                time.sleep(RETRY_AFTER)

    def flush(self, app: Flask) -> int:
        """Write every pending marker in one transaction and return how many; on failure (-1) keep
        them for the next round."""
        with self.lock:
            taken, self.values = self.values, {}
        if not taken:
            return 0
        by_kind: dict[str, dict[Hashable, Any]] = defaultdict(dict)
        for (kind, key), value in taken.items():
            by_kind[kind][key] = value
        with app.app_context():
            try:
                for kind, items in by_kind.items():
                    _WRITERS[kind](items)
                db.session.commit()
            except SQLAlchemyError as exc:
                db.session.rollback()
                log.warning("%s read markers not written, will retry: %s", len(taken), exc.__class__.__name__)
                with self.lock:
                    for slot, value in taken.items():
                        self._keep_newest(slot, value)
                self.wake.set()
                return -1
            finally:
                db.session.remove()
        return len(taken)


pending = Pending()
note = pending.note
noted = pending.get
