"""Durable background jobs: a row written with the change that needs the work, run afterwards.

A job is a `kind` (a name such as "search.index") and a small JSON `payload`. It is written by
`enqueue` into the current transaction, so it exists exactly when the change that asked for it
committed: a rollback drops both, a crash after the commit loses neither. The background process
that `agora serve` forks (agora.notifications.sender) calls `run_pending` every fraction of a
second; `agora jobs run` does the same by hand or from cron.

Writing a new kind of job:

    from agora.core import jobs

    def make_thumbnails(payloads: list[dict]) -> None:   # every claimed job of the kind at once
        ...                                               # commit its own work as it likes

    jobs.register("documents.thumbnail", make_thumbnails)  # once, at app creation
    jobs.enqueue("documents.thumbnail", {"version_id": 12})  # in the request, before its commit

A handler gets the payloads of all the jobs of its kind claimed in one round (so a kind that can
share work, such as one index writer for many entries, does); it must be safe to run twice on the
same payload (a crash after the work but before the job row goes means the work is done again).
A handler that raises leaves its jobs to be tried again later, with a growing delay, up to
MAX_ATTEMPTS; a process that dies mid-run leaves its claims, which are taken back after
STALE_CLAIM. On PostgreSQL, claims use FOR UPDATE SKIP LOCKED, so several runners never take the
same job; on SQLite a claim is a conditional update, which gives the same guarantee.

Tests and a development server without the background process set `JOBS_RUN_INLINE`: the jobs a
request enqueued are run once its app context ends (after the response, outside its transaction).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask, current_app, g, has_app_context
from sqlalchemy import JSON, Index, String, delete, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 10
#: Delay before the n-th retry: 2, 4, 8 ... seconds, capped at one hour.
BACKOFF_CAP = timedelta(hours=1)
#: A claim older than this is taken to be from a runner that died mid-run.
STALE_CLAIM = timedelta(minutes=5)

Handler = Callable[[list[dict]], object]
_HANDLERS: dict[str, Handler] = {}


class Job(db.Model):
    """Work to do outside a request: pending, running (claimed by a runner) or failed (given up)."""

    __tablename__ = "jobs"
    __table_args__ = (Index("ix_jobs_status_run_after", "status", "run_after"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(60))
    payload: Mapped[dict] = mapped_column(JSON)
    #: pending, running or failed; a job done is deleted.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: Not run before this (retries wait); for a running job, when it was claimed.
    run_after: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


def register(kind: str, handler: Handler) -> None:
    """Say which function runs the jobs of `kind` (called with the list of their payloads)."""
    _HANDLERS[kind] = handler


def enqueue(kind: str, payload: dict, session: Session | None = None) -> Job:
    """Add a job to the current transaction (of `session`, by default the app's): it exists once that
    commits. Raises KeyError for an unknown kind."""
    if kind not in _HANDLERS:
        raise KeyError(f"no handler registered for job kind {kind!r}")
    job = Job(kind=kind, payload=payload)
    (session or db.session).add(job)
    if has_app_context():
        g.jobs_enqueued = True
    return job


def _claim(limit: int, now: datetime) -> list[Job]:
    """Mark due jobs as running by this runner (committed) and return them."""
    db.session.execute(
        update(Job).where(Job.status == "running", Job.run_after < now - STALE_CLAIM).values(status="pending")
    )
    due = select(Job.id).where(Job.status == "pending", Job.run_after <= now).order_by(Job.id).limit(limit)
    if db.engine.dialect.name == "postgresql":
        ids = list(db.session.scalars(due.with_for_update(skip_locked=True)))
        if ids:
            db.session.execute(update(Job).where(Job.id.in_(ids)).values(status="running", run_after=now))
    else:
        ids = [
            job_id
            for job_id in db.session.scalars(due)
            if db.session.execute(
                update(Job).where(Job.id == job_id, Job.status == "pending").values(status="running", run_after=now)
            ).rowcount
        ]
    db.session.commit()
    if not ids:
        return []
    return list(db.session.scalars(select(Job).where(Job.id.in_(ids)).order_by(Job.id)))


def run_pending(limit: int = 200, now: datetime | None = None) -> int:
    """Claim up to `limit` due jobs and run them, a kind at a time; return how many succeeded.

    Raises nothing for a failing handler: its jobs are rescheduled (or marked failed) and logged."""
    now = now or utcnow()
    claimed = _claim(limit, now)
    by_kind: dict[str, list[Job]] = {}
    for job in claimed:
        by_kind.setdefault(job.kind, []).append(job)
    done = 0
    for kind, batch in by_kind.items():
        ids, payloads = [job.id for job in batch], [dict(job.payload) for job in batch]
        db.session.rollback()  # no transaction stays open while the handler works
        try:
            handler = _HANDLERS[kind]
            handler(payloads)
        except Exception as exc:
            db.session.rollback()
            log.exception("%s job(s) of kind %s failed, will retry", len(ids), kind)
            _reschedule(ids, f"{exc.__class__.__name__}: {exc}"[:500], now)
        else:
            db.session.execute(delete(Job).where(Job.id.in_(ids)).execution_options(synchronize_session=False))
            done += len(ids)
        db.session.commit()
    return done


def _reschedule(ids: list[int], error: str, now: datetime) -> None:
    for job in db.session.scalars(select(Job).where(Job.id.in_(ids))):
        job.attempts += 1
        job.last_error = error
        if job.attempts >= MAX_ATTEMPTS:
            job.status = "failed"
        else:
            job.status = "pending"
            job.run_after = now + min(timedelta(seconds=2**job.attempts), BACKOFF_CAP)


def run_all(limit: int = 200) -> int:
    """Run rounds until no job is due now (tests, `agora jobs run`); return how many succeeded."""
    total = 0
    while done := run_pending(limit):
        total += done
    return total


def counts() -> dict[str, int]:
    """Return how many jobs are in each status."""
    from sqlalchemy import func

    found = {"pending": 0, "running": 0, "failed": 0}
    found.update(dict(db.session.execute(select(Job.status, func.count()).group_by(Job.status)).all()))
    return found


def _run_inline(exc) -> None:
    if not g.pop("jobs_enqueued", False) or not current_app.config.get("JOBS_RUN_INLINE"):
        return
    try:
        db.session.rollback()
        run_all()
        db.session.rollback()
    except Exception:  # the request is answered; a job left behind waits for the background process
        log.exception("jobs not run after the request")
        db.session.rollback()


def init_app(app: Flask) -> None:
    """With JOBS_RUN_INLINE (tests, a development server), run what a request enqueued once it ends."""
    app.teardown_appcontext(_run_inline)
