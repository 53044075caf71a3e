"""One page under load: each virtual user logs in as its own member, then asks for the page without pause.

Driven by benchmarks/load.py through the environment: AGORA_BENCH_PATH (the page) and
AGORA_BENCH_USERS (comma-separated usernames, one per virtual user, reused in turn if fewer).
"""

from __future__ import annotations

import itertools
import os
import re

from locust import FastHttpUser, constant, task

PASSWORD = os.environ.get("AGORA_BENCH_PASSWORD", "une phrase pour mesurer")
PATH = os.environ.get("AGORA_BENCH_PATH", "/healthz")
ACCOUNTS = itertools.cycle(os.environ.get("AGORA_BENCH_USERS", "").split(",") or [""])
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


class Member(FastHttpUser):
    wait_time = constant(0)

    def on_start(self):
        name = next(ACCOUNTS)
        if not name:
            return
        token = CSRF.search(self.client.get("/login", name="login").text).group(1)
        with self.client.post(
            "/login",
            data={"csrf_token": token, "username": name, "password": PASSWORD},
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 302:
                response.failure(f"login of {name} gave {response.status_code}")

    @task
    def page(self):
        with self.client.get(PATH, name="page", catch_response=True) as response:
            if response.status_code != 200:
                response.failure(f"{PATH} gave {response.status_code}")
