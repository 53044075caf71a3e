"""What the benchmarks share: the agora command, a cookie-keeping HTTP client, a free port."""

from __future__ import annotations

import http.cookiejar
import re
import socket
import sys
import urllib.request
from pathlib import Path

from werkzeug.datastructures import MultiDict
from werkzeug.test import encode_multipart

AGORA = str(Path(sys.executable).with_name("agora"))
PASSWORD = "une phrase pour mesurer"
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Browser:
    def __init__(self, base: str):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def get(self, path: str, headers=None) -> bytes:
        with self.opener.open(urllib.request.Request(self.base + path, headers=headers or {})) as response:
            return response.read()

    def drain(self, path: str, headers=None) -> int:
        """Read a response in 1 MB chunks, as a client saving it would; return its size."""
        total = 0
        with self.opener.open(urllib.request.Request(self.base + path, headers=headers or {})) as response:
            while chunk := response.read(1024 * 1024):
                total += len(chunk)
        return total

    def token(self, path: str) -> str:
        return CSRF.search(self.get(path).decode()).group(1)

    def post(self, path: str, fields: MultiDict) -> str:
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

    def login(self, username: str, password: str = PASSWORD) -> None:
        self.post(
            "/login", MultiDict([("csrf_token", self.token("/login")), ("username", username), ("password", password)])
        )
