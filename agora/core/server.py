"""The production server: gunicorn serving the already-built app."""
from __future__ import annotations

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


def run_server(app: Flask, host: str, port: int, workers: int, threads: int) -> None:
    """Serve app until SIGTERM or SIGINT, logging each request to standard output."""
    AgoraServer(
        app,
        {
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
