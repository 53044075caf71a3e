"""Mixed load with writes, for benchmarks/soak.py: members read the main pages, reply, open topics and add events.

Environment: AGORA_BENCH_SLUG (the space), AGORA_BENCH_USERS (usernames, one per virtual user),
AGORA_BENCH_TOPIC (a topic to reply in), AGORA_BENCH_OUT (where to write the count of each
successful write when the run stops).
"""

from __future__ import annotations

import itertools
import json
import os
import re
import threading
from collections import Counter
from datetime import date, timedelta

from locust import FastHttpUser, between, events, task

PASSWORD = os.environ.get("AGORA_BENCH_PASSWORD", "une phrase pour mesurer")
SLUG = os.environ.get("AGORA_BENCH_SLUG", "quartier-01")
TOPIC = os.environ.get("AGORA_BENCH_TOPIC", "1")
ACCOUNTS = itertools.cycle(os.environ.get("AGORA_BENCH_USERS", "").split(","))
CSRF = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')
WRITTEN: Counter = Counter()
LOCK = threading.Lock()


@events.test_stop.add_listener
def _write_counts(**_kwargs):
    with open(os.environ.get("AGORA_BENCH_OUT", "soak-writes.json"), "w") as handle:
        json.dump(dict(WRITTEN), handle)


class Member(FastHttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.name = next(ACCOUNTS)
        self.token = CSRF.search(self.client.get("/login", name="login").text).group(1)
        self.client.post(
            "/login",
            data={"csrf_token": self.token, "username": self.name, "password": PASSWORD},
            name="login",
            allow_redirects=False,
        )
        self.token = CSRF.search(self.client.get(f"/s/{SLUG}/forum/new", name="forum new").text).group(1)
        self.sequence = 0

    def _write(self, kind: str, path: str, data: dict):
        self.sequence += 1
        with self.client.post(
            path, data={"csrf_token": self.token, **data}, name=kind, allow_redirects=False, catch_response=True
        ) as response:
            if response.status_code in (302, 303):
                with LOCK:
                    WRITTEN[kind] += 1
            else:
                response.failure(f"{kind} gave {response.status_code}")

    @task(6)
    def read(self):
        for path in (
            f"/s/{SLUG}/",
            f"/s/{SLUG}/forum/",
            f"/s/{SLUG}/forum/{TOPIC}/",
            f"/s/{SLUG}/agenda/?view=month",
            "/",
            "/notifications",
        ):
            self.client.get(path, name=path.replace(TOPIC, "<topic>"))

    @task(1)
    def search(self):
        self.client.get("/search?q=jardin", name="/search")

    @task(3)
    def reply(self):
        self._write(
            "reply",
            f"/s/{SLUG}/forum/{TOPIC}/reply",
            {"body": f"Réponse de {self.name} n° {self.sequence} pendant l'essai d'endurance"},
        )

    @task(1)
    def topic(self):
        self._write(
            "topic",
            f"/s/{SLUG}/forum/new",
            {"title": f"Sujet de {self.name} n° {self.sequence}", "body": "Qu'en pensez-vous ?", "category": "0"},
        )

    @task(1)
    def event(self):
        day = (date.today() + timedelta(days=7 + self.sequence % 60)).isoformat()
        self._write(
            "event",
            f"/s/{SLUG}/agenda/new",
            {
                "title": f"Permanence {self.name} n° {self.sequence}",
                "start_date": day,
                "start_time": "18:00",
                "end_date": day,
                "end_time": "19:00",
                "tz": "Europe/Paris",
                "location": "Centre social",
                "category": "0",
                "repeat": "none",
                "interval": "1",
                "ends": "never",
            },
        )
