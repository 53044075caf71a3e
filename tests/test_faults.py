"""Faults: the server killed (SIGKILL) in the middle of an upload and of a form, then restarted.

Every committed thing is there, nothing half-written is visible, `agora documents check` is clean.
"""

from __future__ import annotations

import http.cookiejar
import io
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

AGORA = str(Path(sys.executable).with_name("agora"))
PASSWORD = "une phrase pour la panne"
#: Each test starts and kills real servers.
pytestmark = pytest.mark.slow

CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _start(env) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    process = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    for line in process.stderr:
        if "Booting worker" in line:
            break
    return process, f"http://127.0.0.1:{port}"


class Browser:
    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path) -> bytes:
        with self.opener.open(self.base + path) as response:
            return response.read()

    def token(self, path) -> str:
        return CSRF.search(self.get(path).decode()).group(1)

    def post(self, path, fields: MultiDict) -> str:
        boundary, body = encode_multipart(fields)
        request = urllib.request.Request(
            self.base + path,
            data=body,
            method="POST",
            headers={"Content-Type": f'multipart/form-data; boundary="{boundary}"'},
        )
        with self.opener.open(request) as response:
            response.read()
            return response.url

    def cookie_header(self) -> str:
        return "; ".join(
            f"{c.name}={c.value}" for h in self.opener.handlers if hasattr(h, "cookiejar") for c in h.cookiejar
        )


def _upload(browser, name, content):
    fields = MultiDict(
        [
            ("csrf_token", browser.token("/s/panne/documents/")),
            ("on_conflict", "version"),
            ("files", FileStorage(io.BytesIO(content), filename=name)),
        ]
    )
    return browser.post("/s/panne/documents/upload", fields)


def _half_sent(base: str, cookie: str, path: str, fields: MultiDict) -> socket.socket:
    """Send a request's headers and half its body, and leave it hanging."""
    boundary, body = encode_multipart(fields)
    host, port = base.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nCookie: {cookie}\r\n"
        f'Content-Type: multipart/form-data; boundary="{boundary}"\r\nContent-Length: {len(body)}\r\n\r\n'
    )
    sock.sendall(head.encode() + body[: len(body) // 2])
    return sock


def test_killing_the_server_mid_upload_and_mid_form_loses_nothing_committed(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = str(tmp_path / "instance")
    for args in (
        ("init",),
        ("user", "create", "panne", "--password", PASSWORD),
        ("space", "create", "panne", "--name", "Espace en panne", "--admin", "panne"),
    ):
        subprocess.run([AGORA, *args], env=env, check=True, capture_output=True)
    server, base = _start(env)
    kept = {f"cr-{n}.txt": f"Compte rendu {n}".encode() for n in range(3)}
    try:
        browser = Browser(base)
        browser.post(
            "/login",
            MultiDict([("csrf_token", browser.token("/login")), ("username", "panne"), ("password", PASSWORD)]),
        )
        for name, content in kept.items():
            _upload(browser, name, content)
        cookie = browser.cookie_header()
        token = browser.token("/s/panne/documents/")
        hanging = [
            _half_sent(
                base,
                cookie,
                "/s/panne/documents/upload",
                MultiDict(
                    [
                        ("csrf_token", token),
                        ("on_conflict", "version"),
                        ("files", FileStorage(io.BytesIO(os.urandom(4 * 1024 * 1024)), filename="a-moitie.bin")),
                    ]
                ),
            ),
            _half_sent(
                base,
                cookie,
                "/s/panne/forum/new",
                MultiDict(
                    [("csrf_token", token), ("title", "Sujet interrompu"), ("body", "x" * 200_000), ("category", "0")]
                ),
            ),
        ]
        time.sleep(0.5)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.communicate(timeout=30)
    for sock in hanging:
        sock.close()

    server, base = _start(env)
    try:
        browser = Browser(base)
        browser.post(
            "/login",
            MultiDict([("csrf_token", browser.token("/login")), ("username", "panne"), ("password", PASSWORD)]),
        )
        folder = browser.get("/s/panne/documents/").decode()
        assert "a-moitie.bin" not in folder
        for name, content in kept.items():
            document_id = re.search(rf'/documents/(\d+)"[^>]*>{re.escape(name)}', folder).group(1)
            assert browser.get(f"/s/panne/documents/{document_id}/download") == content
        assert "Sujet interrompu" not in browser.get("/s/panne/forum/").decode()
        _upload(browser, "apres.txt", b"le service reprend")  # and writing works again
    finally:
        server.terminate()
        server.communicate(timeout=30)
    check = subprocess.run([AGORA, "documents", "check"], env=env, capture_output=True, text=True)
    assert check.returncode == 0 and "files and database agree" in check.stdout
