"""Thirty spaces on one small server: every main page under load, CPU per request, memory, cold start.

    .venv/bin/pip install -e '.[bench]'      # and wrk (Debian: apt-get install wrk)
    .venv/bin/python benchmarks/load.py [--scales 1,10] [--spaces 30] [--duration 10] [--concurrency 10]

For each scale: a new instance, `agora demo --spaces N --scale K` (timed), `agora search reindex`
(timed), then `agora serve` with its defaults (cold start to the first answered request). Each
page of space `quartier-01` is driven by wrk (one thread and one logged-in session per
connection; the sessions are opened before the run) or, without wrk, by locust (FastHttpUser, no
pause, every virtual user logged in as a distinct member; its logins then count in the CPU).

Prints per page: requests/s, latencies, errors, and **CPU ms per request**: the CPU time (utime +
stime from /proc/<pid>/stat) of every process of the `agora serve` tree during the run, divided by
the requests served. Memory: PSS summed over the same processes (smaps_rollup), at rest and at
the peak sampled during the runs. Each figure stands next to its budget (issue 28: the CPU column
at scale 1, ×1.3 at scale 10; 120 MB PSS at rest and 180 MB at peak at scale 1, +20 % at scale 10)
with "met" or "NOT met". Writes everything as JSON.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

from _client import Browser

HERE = Path(__file__).resolve().parent
AGORA = str(Path(sys.executable).with_name("agora"))
LOCUST = str(Path(sys.executable).with_name("locust"))
TRIVIAL = "/healthz"
WRK = shutil.which("wrk")
TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")
#: Issue 28's budgets, CPU ms per request at scale 1 (×1.3 allowed at scale 10); pages without one are shown only.
CPU_BUDGET = {
    "dashboard /": 4,
    "space home": 8,
    "forum topic list": 8,
    "topic (25 replies)": 4,
    "agenda month": 6,
    "documents folder": 6,
    "task list": 6,
    "member directory": 4,
    "search": 20,
}
MEMORY_BUDGET = {"at_rest": 120, "peak": 180}
SCALE_10_CPU, SCALE_10_MEMORY = 1.3, 1.2


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


def cpu_ms(pid: int) -> float:
    """CPU time (user + system) spent so far by the server's processes, in ms."""
    ticks = 0
    for proc in tree(pid):
        try:
            fields = Path(f"/proc/{proc}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return ticks * TICK_MS


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
        topic = conn.execute(
            "SELECT id FROM forum_topics WHERE space_id = ? ORDER BY abs(reply_count - 25), id LIMIT 1", (space_id,)
        ).fetchone()[0]
        folder = conn.execute(
            "SELECT folder_id FROM documents WHERE space_id = ? AND folder_id IS NOT NULL"
            " GROUP BY folder_id ORDER BY count(*) DESC, folder_id LIMIT 1",
            (space_id,),
        ).fetchone()[0]
        document = conn.execute(
            "SELECT id FROM documents WHERE space_id = ? ORDER BY id LIMIT 1", (space_id,)
        ).fetchone()[0]
        members = [
            row[0]
            for row in conn.execute(
                "SELECT u.username FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.space_id = ? ORDER BY u.id",
                (space_id,),
            )
        ]
    base = f"/s/{slug}"
    pages = {
        "dashboard /": "/",
        "space home": f"{base}/",
        "forum topic list": f"{base}/forum/",
        "topic (25 replies)": f"{base}/forum/{topic}/",
        "agenda month": f"{base}/agenda/?view=month",
        "iCal feed": f"{base}/agenda.ics",
        "documents folder": f"{base}/documents/folders/{folder}",
        "download": f"{base}/documents/{document}/download",
        "task list": f"{base}/tasks/",
        "task board": f"{base}/tasks/board",
        "member directory": f"{base}/members/",
        "search": "/search?q=jardin",
        f"trivial {TRIVIAL}": TRIVIAL,
    }
    return pages, members


WRK_SCRIPT = """
local cookies = {%s}
local count = 0
function setup(thread)
  count = count + 1
  thread:set("cookie", cookies[(count - 1) %% #cookies + 1])
end
function init(args)
  wrk.headers["Cookie"] = cookie
end
done = function(summary, latency, requests)
  io.write(string.format("JSON {\\"requests\\": %%d, \\"seconds\\": %%f, \\"non2xx\\": %%d, \\"socket\\": %%d, "
    .. "\\"p50\\": %%f, \\"p95\\": %%f, \\"p99\\": %%f}\\n", summary.requests, summary.duration / 1e6,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(95) / 1000, latency:percentile(99) / 1000))
end
"""


def sessions(host: str, users: list[str], count: int) -> list[str]:
    """Log in `count` members (reused in turn if fewer) and return their Cookie headers."""
    cookies = []
    for name in (users[i % len(users)] for i in range(count)):
        browser = Browser(host)
        browser.login(name)
        jar = next(h for h in browser.opener.handlers if hasattr(h, "cookiejar")).cookiejar
        cookies.append("; ".join(f"{c.name}={c.value}" for c in jar))
    return cookies


def drive_wrk(host: str, path: str, cookies: list[str], duration: int, pid: int) -> dict:
    """One wrk run against one page, one thread and one session per connection; its figures and CPU ms/request."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % ", ".join(json.dumps(c) for c in cookies))
    try:
        before = cpu_ms(pid)
        out = subprocess.run(
            [
                WRK,
                "-t",
                str(len(cookies)),
                "-c",
                str(len(cookies)),
                "-d",
                f"{duration}s",
                "-s",
                script.name,
                host + path,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        spent = cpu_ms(pid) - before
    finally:
        os.unlink(script.name)
    figures = json.loads(next(line for line in out.splitlines() if line.startswith("JSON "))[5:])
    requests = figures["requests"] or 1
    return {
        "rps": figures["requests"] / figures["seconds"],
        "p50": figures["p50"],
        "p95": figures["p95"],
        "p99": figures["p99"],
        "requests": figures["requests"],
        "errors": figures["non2xx"] + figures["socket"],
        "non2xx": figures["non2xx"],
        "socket_errors": figures["socket"],
        "cpu_ms": spent / requests,
    }


def drive(host: str, path: str, users: list[str], concurrency: int, duration: int, pid: int) -> dict:
    """One locust run against one page; the page's row of its statistics (its logins count in the CPU)."""
    before = cpu_ms(pid)
    with tempfile.TemporaryDirectory() as folder:
        prefix = os.path.join(folder, "run")
        env = {**os.environ, "AGORA_BENCH_PATH": path, "AGORA_BENCH_USERS": ",".join(users[:concurrency])}
        subprocess.run(
            [
                LOCUST,
                "-f",
                str(HERE / "locustfile.py"),
                "--headless",
                "--host",
                host,
                "-u",
                str(concurrency),
                "-r",
                str(concurrency),
                "-t",
                f"{duration}s",
                "--csv",
                prefix,
                "--reset-stats",
                "--only-summary",
                "--loglevel",
                "ERROR",
                "--stop-timeout",
                "5",
            ],
            env=env,
            check=False,
            capture_output=True,
            text=True,
        )
        with open(f"{prefix}_stats.csv", newline="") as handle:
            rows = {row["Name"]: row for row in csv.DictReader(handle)}
    row = rows.get("page") or {}
    login = rows.get("login") or {}

    def number(key: str, source=row) -> float:
        value = source.get(key) or "0"
        return float(value) if value not in ("N/A", "") else 0.0

    requests = int(number("Request Count"))
    return {
        "rps": number("Requests/s"),
        "p50": number("50%"),
        "p95": number("95%"),
        "p99": number("99%"),
        "requests": requests,
        "errors": int(number("Failure Count")) + int(number("Failure Count", login)),
        "cpu_ms": (cpu_ms(pid) - before) / (requests or 1),
    }


def start_server(env: dict) -> tuple[subprocess.Popen, str]:
    """`agora serve` with its defaults on a free port, once it answers; the process and its address."""
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    while True:
        try:
            with urllib.request.urlopen(host + TRIVIAL, timeout=1) as response:
                if response.status == 200:
                    return server, host
        except OSError:
            time.sleep(0.02)


def run_scale(scale: float, args) -> dict:
    instance = tempfile.mkdtemp(prefix=f"agora-load-{scale}-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    env["AGORA_INSTANCE"] = instance
    subprocess.run([AGORA, "init"], env=env, check=True, capture_output=True)
    began = time.perf_counter()
    subprocess.run(
        [AGORA, "demo", "--spaces", str(args.spaces), "--scale", str(scale)], env=env, check=True, capture_output=True
    )
    seeded = time.perf_counter() - began
    began = time.perf_counter()
    if not args.no_search:
        subprocess.run([AGORA, "search", "reindex"], env=env, check=True, capture_output=True)
    indexed = time.perf_counter() - began
    pages, members = targets(instance)
    if args.no_search:
        pages.pop("search")
    began = time.perf_counter()
    server, host = start_server(env)
    cold_start = time.perf_counter() - began
    try:
        time.sleep(1)
        at_rest = memory(server.pid)
        peak = Peak(server.pid)
        peak.start()
        results = {}
        cookies = {c: sessions(host, members, c) for c in args.concurrency} if WRK else {}
        for name, path in pages.items():
            if args.pages and name not in args.pages:
                continue
            results[name] = {}
            for concurrency in args.concurrency:
                results[name][concurrency] = (
                    drive_wrk(host, path, cookies[concurrency], args.duration, server.pid)
                    if WRK
                    else drive(host, path, members, concurrency, args.duration, server.pid)
                )
        peak.stop.set()
        after = memory(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {
        "scale": scale,
        "spaces": args.spaces,
        "seed_seconds": round(seeded, 1),
        "index_seconds": round(indexed, 1),
        "cold_start_seconds": round(cold_start, 2),
        "memory_mb": {"at_rest": at_rest, "peak": (peak.rss, peak.pss), "after": after},
        "pages": results,
        "paths": pages,
    }


def verdict(value: float, budget: float | None) -> str:
    if budget is None:
        return ""
    return f"≤ {budget:g}: " + ("met" if value <= budget else "NOT met")


def report(result: dict, concurrency: list[int]) -> None:
    print(
        f"\n== scale {result['scale']}: {result['spaces']} spaces; generated in {result['seed_seconds']} s, "
        f"indexed in {result['index_seconds']} s; cold start {result['cold_start_seconds']} s"
    )
    memory_mb = result["memory_mb"]
    grow_cpu = SCALE_10_CPU if result["scale"] > 1 else 1
    grow_memory = SCALE_10_MEMORY if result["scale"] > 1 else 1
    print(
        f"server memory (all processes) RSS/PSS: at rest {memory_mb['at_rest'][0]}/{memory_mb['at_rest'][1]} MB, "
        f"peak {memory_mb['peak'][0]}/{memory_mb['peak'][1]} MB"
    )
    print(
        f"PSS budget: at rest {memory_mb['at_rest'][1]} MB "
        f"{verdict(memory_mb['at_rest'][1], MEMORY_BUDGET['at_rest'] * grow_memory)}; "
        f"peak {memory_mb['peak'][1]} MB {verdict(memory_mb['peak'][1], MEMORY_BUDGET['peak'] * grow_memory)}"
    )
    trivial = {c: (result["pages"].get(f"trivial {TRIVIAL}", {}).get(c) or {}).get("rps") or 1 for c in concurrency}
    header = f"{'page':22}" + "".join(f" | c={c:<3} req/s   p50   p95   p99 err  ceil  CPU ms/req" for c in concurrency)
    header += "  budget"
    print(header)
    print("-" * len(header))
    for name, by_concurrency in result["pages"].items():
        line = f"{name:22}"
        for c in concurrency:
            r = by_concurrency[c]
            line += (
                f" |      {r['rps']:6.0f} {r['p50']:5.0f} {r['p95']:5.0f} {r['p99']:5.0f} {r['errors']:3d}"
                f" {r['rps'] / trivial[c]:4.0%}  {r['cpu_ms']:10.1f}"
            )
        budget = CPU_BUDGET.get(name)
        worst = max(by_concurrency[c]["cpu_ms"] for c in concurrency)
        print(line + "  " + verdict(round(worst, 1), budget * grow_cpu if budget else None))
    print(
        "(times in ms; ceil = requests/s as a share of the same server's /healthz in this run; CPU ms/req ="
        " utime+stime of every server process during the run ÷ requests served)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scales", default="1", help="comma-separated, e.g. 1,3,10")
    parser.add_argument("--spaces", type=int, default=30)
    parser.add_argument("--duration", type=int, default=10, help="seconds per page and concurrency")
    parser.add_argument("--concurrency", default="10")
    parser.add_argument(
        "--no-search", action="store_true", help="skip `agora search reindex` (minutes at scale 10) and the search page"
    )
    parser.add_argument("--pages", default="", help="comma-separated page names to drive (default: all)")
    parser.add_argument("--json", default="load-results.json")
    args = parser.parse_args()
    args.concurrency = [int(c) for c in args.concurrency.split(",")]
    args.pages = [p for p in args.pages.split(",") if p]
    print(f"load tool: {'wrk' if WRK else 'locust (no wrk on PATH: logins count in the CPU figures)'}")
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
            cpu = [r["pages"][name][c]["cpu_ms"] for r in results]
            print(
                f"{name:22} "
                + " → ".join(f"{v:.0f}" for v in values)
                + (f"   (×{values[-1] / values[0]:.1f})" if values[0] else "")
                + "   CPU ms/req "
                + " → ".join(f"{v:.1f}" for v in cpu)
            )
    print(f"\nwritten: {args.json}")


if __name__ == "__main__":
    main()
