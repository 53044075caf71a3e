"""Thirty spaces on one small server: every main page under load, memory, cold start, growth with data.

    .venv/bin/pip install -e '.[bench]'
    .venv/bin/python benchmarks/load.py [--scales 1,3,10] [--spaces 30] [--duration 10] [--concurrency 10,50]

For each scale: a new instance, `agora demo --spaces N --scale K` (timed), `agora search reindex`
(timed), then `agora serve` with its defaults (cold start to the first answered request). Each
page is driven by locust (FastHttpUser, no pause between requests) at each concurrency, every
virtual user logged in as a distinct member of the space. Prints per page: requests/s, p50, p95,
p99 and errors; the server's memory (all its processes: RSS summed, and PSS, which counts shared
pages once) at rest and at peak; the ceiling on /healthz in the same run, and each page's share
of it. Ends with how each page's p50 grows across scales, and writes everything as JSON.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
AGORA = str(Path(sys.executable).with_name("agora"))
LOCUST = str(Path(sys.executable).with_name("locust"))
TRIVIAL = "/healthz"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree(pid: int) -> list[int]:
    """The process and all its descendants."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        todo.extend(int(c) for c in children)
    return found


def memory(pid: int) -> tuple[int, int]:
    """(RSS summed, PSS summed) of the server's processes, in MB."""
    rss = pss = 0
    for proc in tree(pid):
        try:
            for line in Path(f"/proc/{proc}/smaps_rollup").read_text().splitlines():
                if line.startswith("Rss:"):
                    rss += int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss += int(line.split()[1])
        except OSError:
            continue
    return rss // 1024, pss // 1024


class Peak(threading.Thread):
    """Samples the server's memory twice a second, keeping the highest."""

    def __init__(self, pid: int):
        super().__init__(daemon=True)
        self.pid, self.rss, self.pss, self.stop = pid, 0, 0, threading.Event()

    def run(self):
        while not self.stop.wait(0.5):
            rss, pss = memory(self.pid)
            self.rss, self.pss = max(self.rss, rss), max(self.pss, pss)


def targets(instance: str) -> tuple[dict[str, str], list[str]]:
    """The pages to drive (in the first generated space) and its members' usernames."""
    with sqlite3.connect(os.path.join(instance, "agora.db")) as conn:
        space_id, slug = conn.execute("SELECT id, slug FROM spaces WHERE slug = 'quartier-01'").fetchone()
        topic = conn.execute("SELECT id FROM forum_topics WHERE space_id = ? ORDER BY reply_count DESC LIMIT 1",
                             (space_id,)).fetchone()[0]
        folder = conn.execute("SELECT id FROM folders WHERE space_id = ? ORDER BY id LIMIT 1", (space_id,)).fetchone()[0]
        document = conn.execute("SELECT id FROM documents WHERE space_id = ? ORDER BY id LIMIT 1", (space_id,)).fetchone()[0]
        members = [row[0] for row in conn.execute(
            "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.space_id = ? ORDER BY u.id",
            (space_id,))]
    base = f"/s/{slug}"
    pages = {
        "dashboard /": "/",
        "space home": f"{base}/",
        "forum topic list": f"{base}/forum/",
        "topic (25+ replies)": f"{base}/forum/{topic}/",
        "agenda month": f"{base}/agenda/?view=month",
        "iCal feed": f"{base}/agenda.ics",
        "documents folder": f"{base}/documents/folders/{folder}",
        "download": f"{base}/documents/{document}/download",
        "task board": f"{base}/tasks/board",
        "member directory": f"{base}/members/",
        "search": "/search?q=jardin+partag%C3%A9",
        f"trivial {TRIVIAL}": TRIVIAL,
    }
    return pages, members


def drive(host: str, path: str, users: list[str], concurrency: int, duration: int) -> dict:
    """One locust run against one page; the page's row of its statistics."""
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "run")
        env = {**os.environ, "AGORA_BENCH_PATH": path, "AGORA_BENCH_USERS": ",".join(users[:concurrency])}
        subprocess.run([LOCUST, "-f", str(HERE / "locustfile.py"), "--headless", "--host", host, "-u", str(concurrency),
                        "-r", str(concurrency), "-t", f"{duration}s", "--csv", prefix, "--reset-stats",
                        "--only-summary", "--loglevel", "ERROR", "--stop-timeout", "5"],
                       env=env, check=False, capture_output=True, text=True)
        with open(f"{prefix}_stats.csv", newline="") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows.get("page") or {}
    login = rows.get("login") or {}

    def number(key: str, source=row) -> float:
        value = source.get(key) or "0"
        return float(value) if value not in ("N/A", "") else 0.0

    return {"rps": number("Requests/s"), "p50": number("50%"), "p95": number("95%"), "p99": number("99%"),
            "requests": int(number("Request Count")), "errors": int(number("Failure Count")) + int(number("Failure Count", login))}


def run_scale(scale: float, args) -> dict:
    instance = tempfile.mkdtemp(prefix=f"agora-load-{scale}-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = instance
    subprocess.run([AGORA, "init"], env=env, check=True, capture_output=True)
    began = time.perf_counter()
    subprocess.run([AGORA, "demo", "--spaces", str(args.spaces), "--scale", str(scale)], env=env, check=True,
                   capture_output=True)
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    subprocess.run([AGORA, "search", "reindex"], env=env, check=True, capture_output=True)
    indexed = time.perf_counter() - began
    pages, members = targets(instance)
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    began = time.perf_counter()
    server = subprocess.Popen([AGORA, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    while True:
        try:
            with urllib.request.urlopen(host + TRIVIAL, timeout=1) as response:
                if response.status == 200:
                    break
        except OSError:
            time.sleep(0.02)
    cold_start = time.perf_counter() - began
    try:
        time.sleep(1)
        at_rest = memory(server.pid)
        peak = Peak(server.pid)
        peak.start()
        results = {}
        for name, path in pages.items():
            results[name] = {}
            for concurrency in args.concurrency:
                results[name][concurrency] = drive(host, path, members, concurrency, args.duration)
        peak.stop.set()
        after = memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"scale": scale, "spaces": args.spaces, "seed_seconds": round(seeded, 1), "index_seconds": round(indexed, 1),
            "cold_start_seconds": round(cold_start, 2), "memory_mb": {"at_rest": at_rest, "peak": (peak.rss, peak.pss),
                                                                      "after": after},
            "pages": results, "paths": pages}


def report(result: dict, concurrency: list[int]) -> None:
    print(f"\n== scale {result['scale']}: {result['spaces']} spaces; generated in {result['seed_seconds']} s, "
          f"indexed in {result['index_seconds']} s; cold start {result['cold_start_seconds']} s")
    memory_mb = result["memory_mb"]
    print(f"server memory (all processes) RSS/PSS: at rest {memory_mb['at_rest'][0]}/{memory_mb['at_rest'][1]} MB, "
          f"peak {memory_mb['peak'][0]}/{memory_mb['peak'][1]} MB")
    trivial = {c: result["pages"][f"trivial {TRIVIAL}"][c]["rps"] or 1 for c in concurrency}
    header = f"{'page':22}" + "".join(f" | c={c:<3} req/s   p50   p95   p99 err  ceil" for c in concurrency)
    print(header)
    print("-" * len(header))
    for name, by_concurrency in result["pages"].items():
        line = f"{name:22}"
        for c in concurrency:
            r = by_concurrency[c]
            line += (f" |      {r['rps']:6.0f} {r['p50']:5.0f} {r['p95']:5.0f} {r['p99']:5.0f} {r['errors']:3d}"
                     f" {r['rps'] / trivial[c]:4.0%}")
        print(line)
    print("(times in ms; ceil = requests/s as a share of the same server's /healthz in this run)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1", help="comma-separated, e.g. 1,3,10")
    parser.add_argument("--spaces", type=int, default=30)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page and concurrency")
    parser.add_argument("--concurrency", default="10,50")
    parser.add_argument("--json", default="load-results.json")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    print(f"machine: {os.cpu_count()} cores; load tool on the same machine")
    results = []
    for scale in (float(s) for s in args.scales.split(",")):
        results.append(run_scale(scale, args))
        report(results[-1], args.concurrency)
        Path(args.json).write_text(json.dumps(results, indent=2))
    if len(results) > 1:
        c = args.concurrency[0]
        print(f"\n== growth of p50 (ms) at concurrency {c}, scale " + " → ".join(str(r["scale"]) for r in results))
        for name in results[0]["pages"]:
            values = [r["pages"][name][c]["p50"] for r in results]
            print(f"{name:22} " + " → ".join(f"{v:.0f}" for v in values)
                  + f"   (×{values[-1] / values[0]:.1f})" if values[0] else "")
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
