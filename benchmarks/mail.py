"""The mail sender under load: 10,000 queued mails leave while people keep posting.

    .venv/bin/python benchmarks/mail.py [--mails 10000] [--writers 4]

Makes a throwaway instance with a space of members, queues the mails, starts a local SMTP server
(aiosmtpd) and a real `agora serve` (two workers and the one mail sender it starts). While the
mails leave, `--writers` threads each log in as their own member and post forum replies in a
loop. Prints the sending rate, the replies posted meanwhile with their latency (p50, p95, max)
and errors, and checks that every mail arrived exactly once and every reply was stored.
"""

from __future__ import annotations

import argparse
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from email import message_from_bytes, policy

from _client import AGORA, PASSWORD, Browser, free_port
from aiosmtpd.controller import Controller
from werkzeug.datastructures import MultiDict


class Counter:
    """SMTP handler that counts messages and remembers their Message-IDs."""

    def __init__(self):
        self.ids: list[str] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message_id = message_from_bytes(envelope.content, policy=policy.SMTP)["Message-ID"]
        with self.lock:
            self.ids.append(str(message_id))
        return "250 OK"


def queue(instance: str, count: int) -> None:
    """Write the pending mails straight into the outbox, as a burst of notifications would."""
    with sqlite3.connect(os.path.join(instance, "agora.db")) as conn:
        conn.executemany(
            "INSERT INTO outbox_messages (recipient, subject, body, status, attempts, created_at, next_attempt_at) "
            "VALUES (?, ?, ?, 'pending', 0, '2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')",
            [
                (f"habitant{n}@example.org", f"[Conseil citoyen] Message {n}", "Bonjour,\n\nà mardi.")
                for n in range(count)
            ],
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mails", type=int, default=10_000)
    parser.add_argument("--writers", type=int, default=4)
    parser.add_argument("--baseline", type=float, default=20, help="Seconds of writes before the mails are queued.")
    args = parser.parse_args()

    handler = Counter()
    smtp = Controller(handler, hostname="127.0.0.1", port=free_port())
    smtp.start()
    instance = tempfile.mkdtemp(prefix="agora-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env.update(
        AGORA_INSTANCE=instance,
        AGORA_SMTP_HOST="127.0.0.1",
        AGORA_SMTP_PORT=str(smtp.port),
        AGORA_SMTP_FROM="agora@quartier.example",
    )
    run = lambda *a: subprocess.run([AGORA, *a], env=env, check=True, capture_output=True, text=True)  # noqa: E731
    run("init")
    run("user", "create", "animatrice", "--password", PASSWORD)
    run("space", "create", "conseil", "--name", "Conseil citoyen", "--admin", "animatrice")
    writers = [f"habitant{n}" for n in range(args.writers)]
    for name in writers:
        run("user", "create", name, "--password", PASSWORD)
        run("space", "add-member", "conseil", name, "--role", "member")
    port = free_port()
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    latencies: dict[str, list[float]] = {"before": [], "during": []}
    phase = ["before"]
    errors: list[str] = []
    stop = threading.Event()

    def write(name: str) -> None:
        browser = Browser(f"http://127.0.0.1:{port}")
        browser.login(name)
        token = browser.token("/s/conseil/forum/new")
        browser.post(
            "/s/conseil/forum/new",
            MultiDict(
                [("csrf_token", token), ("title", f"Sujet de {name}"), ("body", "Premier message"), ("category", "0")]
            ),
        )
        page = browser.get("/s/conseil/forum/").decode()
        topic = re.search(rf'/forum/(\d+)/"[^>]*>Sujet de {name}<', page).group(1)
        n = 0
        while not stop.is_set():
            began = time.perf_counter()
            try:
                browser.post(
                    f"/s/conseil/forum/{topic}/reply", MultiDict([("csrf_token", token), ("body", f"Réponse {n}")])
                )
                latencies[phase[0]].append(time.perf_counter() - began)
            except OSError as exc:
                errors.append(f"{exc.__class__.__name__}: {exc}")
            n += 1

    try:
        for line in server.stderr:
            if "Booting worker" in line:
                break
        threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
        threads = [threading.Thread(target=write, args=(name,)) for name in writers]
        for thread in threads:
            thread.start()
        time.sleep(args.baseline)  # the same writes with nothing to send, for comparison
        phase[0] = "during"
        queue(instance, args.mails)
        began = time.perf_counter()
        while len(handler.ids) < args.mails and time.perf_counter() - began < 1800:
            time.sleep(0.1)
        elapsed = time.perf_counter() - began
        stop.set()
        for thread in threads:
            thread.join()
    finally:
        server.terminate()
        server.wait(timeout=30)
        smtp.stop()
    with sqlite3.connect(os.path.join(instance, "agora.db")) as conn:
        stored = conn.execute("SELECT count(*) FROM forum_posts WHERE is_first = 0").fetchone()[0]
        statuses = dict(conn.execute("SELECT status, count(*) FROM outbox_messages GROUP BY status").fetchall())
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}")
    print(
        f"mails: {len(handler.ids)} received ({len(set(handler.ids))} distinct Message-IDs) of {args.mails} "
        f"in {elapsed:.1f} s = {len(handler.ids) / elapsed:.0f} mails/s; outbox {statuses}"
    )
    for name, label in (("before", f"before the mails ({args.baseline:.0f} s)"), ("during", "while they leave")):
        ms = sorted(x * 1000 for x in latencies[name])
        if ms:
            print(
                f"replies by {args.writers} members {label}: {len(ms)}, p50 {statistics.median(ms):.0f} ms, "
                f"p95 {ms[int(len(ms) * 0.95)]:.0f} ms, max {ms[-1]:.0f} ms"
            )
    posted = sum(len(v) for v in latencies.values())
    print(f"replies posted {posted}, stored {stored}; errors {len(errors)}")
    for error in errors[:5]:
        print("  error:", error)


if __name__ == "__main__":
    main()
