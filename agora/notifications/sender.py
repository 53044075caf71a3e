"""The background loop: writes asked-for reset links and due notification mails to the outbox, sends the outbox,
runs the other jobs.

`agora serve` forks one of these from its master once the app is built (one sender however many
workers, sharing the loaded code's memory with them), and `agora mail send --watch` runs it by hand. Each round is a few short transactions: the web
workers keep writing while thousands of mails leave. The other jobs are what `agora serve` hands
it (reading the text inside uploaded documents): work too slow or too heavy for a request. Between
mail rounds it looks at the durable job table (agora.core.jobs) twice a second, so that search
indexing and the other queued jobs run within a second of the commit that asked for them.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
from collections.abc import Callable, Sequence

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError

from agora.extensions import db

log = logging.getLogger("agora.mail")


def one_round(app: Flask, batch: int = 100, jobs: Sequence[Callable[[], object]] = ()) -> tuple[int, int]:
    """Compose what is due, send what can be sent now, run each job once; return (mails written, mails sent).

    A job that fails is logged and tried again next round: it never stops the mail."""
    from agora.auth.services import send_reset_mails
    from agora.core.mail import send_pending
    from agora.notifications.mails import compose_due

    with app.app_context():
        written = send_reset_mails()
        db.session.commit()
        written += compose_due()
        sent = 0
        if app.config["SMTP_HOST"]:
            while True:
                report = send_pending(batch)
                sent += report.sent
                if report.sent + report.retried + report.failed < batch:
                    break
    for job in jobs:
        with app.app_context():
            try:
                job()
            except Exception:
                log.exception("background job %s failed, will retry", getattr(job, "__name__", job))
                db.session.rollback()
    return written, sent


#: Seconds between two looks at the durable job table (agora.core.jobs): a change is searchable
#: within about this long of its commit. A look with nothing due is one indexed query.
JOBS_INTERVAL = 0.5


def run_jobs(app: Flask) -> int:
    """Run the durable jobs due now (search indexing...); return how many were done. Never raises."""
    from agora.core import jobs as durable

    with app.app_context():
        try:
            return durable.run_all()
        except SQLAlchemyError as exc:  # database busy or away: the jobs stay, tried again next look
            log.warning("jobs round failed, will retry: %s", exc.__class__.__name__)
            db.session.rollback()
            return 0


def watch(
    app: Flask, interval: float = 5.0, parent_pid: int | None = None, jobs: Sequence[Callable[[], object]] = ()
) -> None:
    """Run rounds until SIGTERM/SIGINT, or until the parent process is gone: the mail every `interval`
    seconds, the durable jobs every JOBS_INTERVAL (the first look, at start, runs what a crash left)."""
    import time

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if not app.config["SMTP_HOST"]:
        log.warning("No SMTP server is configured (AGORA_SMTP_HOST): mails are kept in the outbox, not sent.")
    next_round = 0.0
    while not stop.is_set():
        if parent_pid is not None and os.getppid() != parent_pid:
            break
        run_jobs(app)
        if time.monotonic() >= next_round:
            try:
                written, sent = one_round(app, jobs=jobs)
                if written or sent:
                    log.info("mail: %s written, %s sent", written, sent)
            except SQLAlchemyError as exc:  # database busy or away: try again next round
                log.warning("mail round failed, will retry: %s", exc.__class__.__name__)
                with app.app_context():
                    db.session.rollback()
            next_round = time.monotonic() + interval
        stop.wait(min(JOBS_INTERVAL, interval))


def _name_process(name: str) -> None:
    """Show the sender as `agora-mail` in ps and /proc (Linux), not as a copy of the server."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(15, name.encode(), 0, 0, 0)  # PR_SET_NAME
    except (OSError, AttributeError):
        pass


def start_beside(app: Flask, jobs: Sequence[Callable[[], object]] = ()) -> int:
    """Fork the sender from the current process (the server's master, before its workers); return its pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the sender
        status = 0
        try:
            _name_process("agora-mail")
            logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [mail] %(message)s")
            watch(app, parent_pid=parent, jobs=jobs)
        except BaseException:
            log.exception("the mail sender stopped")
            status = 1
        finally:
            os._exit(status)
    return pid


def stop(pid: int, timeout: float = 10) -> None:
    """Ask the sender to finish its round and wait for it (killed after `timeout` seconds)."""
    import time

    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while True:
        try:
            done, _status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:  # already reaped (the server's master reaps its children)
            return
        if done:
            return
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.05)
