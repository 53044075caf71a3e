"""One SQLite writer at a time per process, served in arrival order.

SQLite lets one connection write at a time. A request that finds the lock taken sleeps in
SQLite's busy handler for growing intervals and retries: a newcomer that tries at the right
moment passes before those who have waited longest, and under load a reply waited up to 9 s.
Here the threads of a process queue for the right to write before asking SQLite (at their
first flush or ORM write statement) and keep it until their transaction ends, so within a
process writers go in turn and the next one starts as soon as the previous commits. Between
processes SQLite's own wait still applies. PostgreSQL, which locks rows, is left alone.
"""

from __future__ import annotations

import threading
from collections import deque

import sqlalchemy.exc
from sqlalchemy import event
from sqlalchemy.orm import Session

_HELD = "agora_write_gate"


class WriteGate:
    """A re-entrant lock whose waiters get it in the order they asked (first come, first served)."""

    def __init__(self):
        self._turns = threading.Condition()
        self._queue: deque[object] = deque()
        self.owner: int | None = None
        self._depth = 0

    def acquire(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for our turn; False if it did not come."""
        me = threading.get_ident()
        with self._turns:
            if self.owner == me:
                self._depth += 1
                return True
            ticket = object()
            self._queue.append(ticket)
            if not self._turns.wait_for(lambda: self.owner is None and self._queue[0] is ticket, timeout):
                self._queue.remove(ticket)
                self._turns.notify_all()
                return False
            self._queue.popleft()
            self.owner, self._depth = me, 1
            return True

    def release(self) -> None:
        with self._turns:
            self._depth -= 1
            if self._depth == 0:
                self.owner = None
                self._turns.notify_all()


gate = WriteGate()


def _is_sqlite(session: Session) -> bool:
    try:
        return session.get_bind().dialect.name == "sqlite"
    except sqlalchemy.exc.UnboundExecutionError:
        return False


def _enter(session: Session) -> None:
    if session.info.get(_HELD) or not _is_sqlite(session):
        return
    from agora.extensions import LOCK_WAIT_MS

    if not gate.acquire(LOCK_WAIT_MS / 1000):
        raise sqlalchemy.exc.OperationalError("waiting to write", None, TimeoutError("database is locked"))
    session.info[_HELD] = True


@event.listens_for(Session, "before_flush")
def _before_flush(session, _flush_context, _instances):
    _enter(session)


@event.listens_for(Session, "do_orm_execute")
def _before_write_statement(state):
    if state.is_insert or state.is_update or state.is_delete:
        _enter(state.session)


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session, transaction):
    if transaction.parent is None and session.info.pop(_HELD, False):
        gate.release()
