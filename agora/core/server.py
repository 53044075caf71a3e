"""The production server: gunicorn serving the already-built app."""

from __future__ import annotations

import gc
from collections.abc import Callable

from flask import Flask
from gunicorn.app.base import BaseApplication


class AgoraServer(BaseApplication):
    """Gunicorn application that serves one Flask app built before the workers fork."""

    def __init__(self, app: Flask, options: dict):
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        return self.application


#: glibc's mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD, _M_ARENA_MAX = -1, -3, -8


def _tune_malloc(arenas: int = 2, mmap_threshold: int = 256 * 1024) -> None:
    """Keep what a worker frees from staying in it.

    glibc gives each busy thread its own memory arena and keeps what it freed there: with four
    threads per worker the server grew by hundreds of MB under load. Two arenas per process keep
    that in check. And glibc raises its mmap threshold each time a large block is freed, so that
    after the first login (argon2 takes 19 MiB and gives it back) every later one is served from
    the heap, whose top is rarely returned: each worker kept about 37 MB after a few logins. A
    fixed threshold keeps large blocks in their own mappings, handed back to the system when
    freed. Set before anything forks, the workers inherit it; elsewhere this does nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_ARENA_MAX, arenas)
        libc.mallopt(_M_MMAP_THRESHOLD, mmap_threshold)
        libc.mallopt(_M_TRIM_THRESHOLD, 2 * mmap_threshold)
    except (OSError, AttributeError):
        pass


def warm_up(app: Flask) -> None:
    """Load in the master what requests will need, before the workers fork: every template compiled,
    the modules that pages import on first use. Forked workers then share these pages of memory
    instead of each building its own copy on its first requests."""
    import importlib

    for name in (
        "agora.search.services",
        "agora.search.extract",
        "agora.agenda.ical",
        "agora.agenda.importer",
        "agora.notifications.mails",
        "agora.documents.storage",
        "PIL.Image",
        "zipstream",
    ):
        try:
            importlib.import_module(name)
        except ImportError:
            pass
    # The ORM's mappers are configured on the first query: done here, their few MB are shared.
    from sqlalchemy.orm import configure_mappers

    configure_mappers()
    # Compiled for the default language, as a request in it sees them (see AgoraFlask.jinja_env).
    with app.test_request_context():
        env = app.jinja_env
        for name in env.list_templates(extensions=("html", "txt")):
            env.get_template(name)
    # What is loaded now stays: the collector will not walk (and so copy) it in every worker.
    gc.collect()
    gc.freeze()


def prepare(app: Flask) -> None:
    """Before anything forks from this process (the mail sender, the workers)."""
    _tune_malloc()
    warm_up(app)


def run_server(
    app: Flask, host: str, port: int, workers: int, threads: int, when_ready: Callable[[], object] | None = None
) -> None:
    """Serve app until SIGTERM or SIGINT, logging each request to standard output (call `prepare` first).

    `when_ready` runs in the master once it listens, just before the workers fork: a process
    forked there (the background process) shares the master's memory as the workers do. Forked
    earlier, it kept a private copy of every page the master changed while it set itself up."""
    options = {}
    if when_ready is not None:
        options["when_ready"] = lambda _arbiter: when_ready()
    AgoraServer(
        app,
        {
            **options,
            "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
            "workers": workers,
            "threads": threads,
            "worker_class": "gthread" if threads > 1 else "sync",
            "accesslog": "-",
            "errorlog": "-",
            "access_log_format": '%(h)s "%(r)s" %(s)s %(b)s %(M)sms',
            "graceful_timeout": 10,
            "timeout": 60,
            "preload_app": True,
            "proc_name": "agora",
            "forwarded_allow_ips": "127.0.0.1,::1",
        },
    ).run()
