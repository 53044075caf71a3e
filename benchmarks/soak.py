"""Endurance: ten minutes of mixed reading and writing; no errors, bounded memory, every write found.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/soak.py [--minutes 10] [--users 30] [--scale 1]

Generates thirty spaces (`agora demo --spaces 30 --scale K`), starts `agora serve` with its
defaults, and runs locust (benchmarks/locust_mixed.py): each member reads the main pages, searches,
replies, opens topics and adds events, with short pauses. Prints the server's memory (all its
processes, PSS) every minute, the errors, and compares the writes locust saw succeed with the rows
the database holds afterwards.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import tempfile
import threading
import time
import urllib.request

from load import AGORA, HERE, LOCUST, free_port, memory, targets

COUNTS = {
    "reply": "SELECT count(*) FROM forum_posts WHERE is_first = 0",
    "topic": "SELECT count(*) FROM forum_topics",
    "event": "SELECT count(*) FROM events",
}


def rows(instance: str) -> dict[str, int]:
    with sqlite3.connect(os.path.join(instance, "agora.db")) as conn:
        return {kind: conn.execute(query).fetchone()[0] for kind, query in COUNTS.items()}


def writers(instance: str) -> list[str]:
    """Members of the first space who may post (readers may not: their writes would be refused)."""
    with sqlite3.connect(os.path.join(instance, "agora.db")) as conn:
        return [
            row[0]
            for row in conn.execute(
                "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id JOIN spaces s ON s.id = m.space_id"
                " WHERE s.slug = 'quartier-01' AND m.role IN ('admin', 'member') ORDER BY u.id"
            )
        ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--users", type=int, default=30)
    parser.add_argument("--scale", type=float, default=1)
    parser.add_argument("--workers", type=int, help="passed to `agora serve` (default: its own)")
    args = parser.parse_args()

    instance = tempfile.mkdtemp(prefix="agora-soak-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = instance
    for command in (["init"], ["demo", "--spaces", "30", "--scale", str(args.scale)], ["search", "reindex"]):
        subprocess.run([AGORA, *command], env=env, check=True, capture_output=True)
    pages, _members = targets(instance)
    members = writers(instance)
    topic = pages["topic (25 replies)"].rstrip("/").rsplit("/", 1)[1]
    before = rows(instance)
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    log = open(os.path.join(instance, "server.log"), "w")
    workers = ["--workers", str(args.workers)] if args.workers else []
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), *workers], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    while True:
        try:
            urllib.request.urlopen(host + "/healthz", timeout=1)
            break
        except OSError:
            time.sleep(0.05)
    samples: list[tuple[float, int]] = []
    stop = threading.Event()

    def sample():
        began = time.monotonic()
        while not stop.wait(5):
            samples.append((time.monotonic() - began, memory(server.pid)[1]))

    sampler = threading.Thread(target=sample, daemon=True)
    try:
        at_rest = memory(server.pid)[1]
        sampler.start()
        with tempfile.TemporaryDirectory() as folder:
            out = os.path.join(folder, "writes.json")
            locust_env = {
                **os.environ,
                "AGORA_BENCH_SLUG": "quartier-01",
                "AGORA_BENCH_TOPIC": topic,
                "AGORA_BENCH_USERS": ",".join(members[: args.users]),
                "AGORA_BENCH_OUT": out,
            }
            subprocess.run(
                [
                    LOCUST,
                    "-f",
                    str(HERE / "locust_mixed.py"),
                    "--headless",
                    "--host",
                    host,
                    "-u",
                    str(args.users),
                    "-r",
                    "5",
                    "-t",
                    f"{int(args.minutes * 60)}s",
                    "--csv",
                    os.path.join(folder, "soak"),
                    "--only-summary",
                    "--loglevel",
                    "ERROR",
                    "--stop-timeout",
                    "10",
                ],
                env=locust_env,
                check=False,
                capture_output=True,
                text=True,
            )
            written = json.load(open(out))
            with open(os.path.join(folder, "soak_stats.csv"), newline="") as handle:
                stats = {row["Name"]: row for row in csv.DictReader(handle)}
            with open(os.path.join(folder, "soak_failures.csv"), newline="") as handle:
                failures = list(csv.DictReader(handle))
        stop.set()
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    after = rows(instance)
    total = stats["Aggregated"]
    print(f"{args.minutes:g} minutes, {args.users} members at once, 30 spaces at scale {args.scale:g}")
    print(
        f"requests {total['Request Count']}, errors {total['Failure Count']}, "
        f"{float(total['Requests/s']):.1f} requests/s, p50 {total['50%']} ms, p95 {total['95%']} ms, p99 {total['99%']} ms"
    )
    for failure in failures:
        print(f"  {failure['Occurrences']} × {failure['Method']} {failure['Name']}: {failure['Error']}")
    for kind in COUNTS:
        found = after[kind] - before[kind]
        print(
            f"{kind:6}: {written.get(kind, 0)} written (answered 302), {found} new rows in the database"
            + ("" if found == written.get(kind, 0) else "  <-- MISMATCH")
        )
    minute = {int(t // 60): pss for t, pss in samples}
    print(
        f"server memory (PSS, all processes): at rest {at_rest} MB; by minute "
        + ", ".join(f"{m + 1}: {pss}" for m, pss in sorted(minute.items()))
        + " MB"
    )
    if samples:
        settled = [pss for t, pss in samples if t >= 120]
        if settled:
            print(
                f"after the first two minutes: min {min(settled)} MB, max {max(settled)} MB, "
                f"growth {settled[-1] - settled[0]:+d} MB; peak {max(p for _t, p in samples)} MB"
            )
    print(f"server log: {log.name}")


if __name__ == "__main__":
    main()
