"""Search at scale through the real server: latency at concurrency 10, CPU per query, worker memory.

    .venv/bin/python benchmarks/search.py --scale 1 [--instance DIR] [--rounds 20]
    .venv/bin/python benchmarks/search.py --scale 10 --instance /tmp/agora-s10

Builds (once per --instance) what `agora demo --spaces 30 --scale N` generates, indexes it with
`agora search reindex`, starts `agora serve` (2 workers, 4 threads, no background process), logs
ten habitants in (those in the most spaces: the widest searches), times a fresh worker's first
search, warms every query once for every habitant (each worker then keeps what their spaces'
segments need), then:

- one at a time, every query: how much each search adds to a worker's memory (peak RSS, VmHWM,
  over what the worker held after serving pages);
- ten clients at once, `--rounds` passes over the queries each: p50 and p99 latency seen by the
  clients, the server's CPU per query (utime + stime of every server process from /proc, divided
  by the queries), and what the ten concurrent searches added to the server's memory.

The queries are one and two words, among them the commonest words of the generated content.
Figures are printed against the budgets of issue 22.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _client import AGORA, Browser, free_port  # noqa: E402

BUDGET = {"p50": 50.0, "p99": 200.0, "cpu": 20.0, "one": 30.0, "ten": 60.0}
#: Typed by people, with and without accents; plus the commonest words of the generated text (added below).
TYPED = [
    "réunion",
    "reunions",
    "jardin partagé",
    "securite",
    "plénière",
    "compte rendu",
    "budget participatif",
    "bailleur",
    "salle polyvalente",
    "encombrants",
    "centre social",
    "bénévoles",
    "gardien bâtiment",
    "fête quartier",
    "marché samedi",
    "permanence caf",
    "ateliers numériques",
    "éclairage passage",
]


def commonest_words(count: int = 8) -> list[str]:
    """The words of the generated content found in the most sentences (after French analysis)."""
    from agora import scale
    from agora.search.index import FRENCH

    counts: collections.Counter = collections.Counter()
    for phrase in (*scale.SUBJECTS, *scale.VERBS, *scale.DETAILS):
        share = (
            len(scale.VERBS) * len(scale.DETAILS)
            if phrase in scale.SUBJECTS
            else (len(scale.SUBJECTS) * (len(scale.DETAILS) if phrase in scale.VERBS else len(scale.VERBS)))
        )
        for word in re.findall(r"\w+", phrase):
            if len(word) > 2 and not word.isdigit() and list(FRENCH(word)):
                counts[word.lower()] += share
    top = [word for word, _n in counts.most_common(count)]
    return top + [f"{a} {b}" for a, b in zip(top[::2], top[1::2], strict=False)]


def run(cmd: list[str], env: dict) -> str:
    return subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def prepare(instance: Path, scale: float, env: dict) -> None:
    if (instance / "agora.db").exists():
        print(f"reusing {instance}")
        run([AGORA, "db", "upgrade"], env)  # made by an older version: `agora serve` wants the latest schema
        return
    run([AGORA, "init"], env)
    began = time.perf_counter()
    print(run([AGORA, "demo", "--spaces", "30", "--scale", str(scale)], env).split(". Their")[0])
    print(f"  seeded in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    print(run([AGORA, "search", "reindex"], env), f"(wall {time.perf_counter() - began:.0f} s)")


def server_pids(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [master, *map(int, children)]


def workers(master: int) -> list[int]:
    return server_pids(master)[1:]


def cpu_seconds(pids: list[int]) -> float:
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def memory_kb(pid: int, name: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(name + ":"):
            return int(line.split()[1])
    return 0


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (Linux 4.0+: write 5 to clear_refs)."""
    Path(f"/proc/{pid}/clear_refs").write_text("5")


def widest_users(instance: Path, count: int) -> list[str]:
    with sqlite3.connect(instance / "agora.db") as conn:
        return [
            row[0]
            for row in conn.execute(
                "select u.username from users u join memberships m on m.user_id = u.id where u.username like 'habitant%' "
                "group by u.id order by count(*) desc, u.id limit ?",
                (count,),
            )
        ]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def verdict(value: float, budget: float) -> str:
    return f"{value:7.1f}  (budget {budget:g}: {'ok' if value <= budget else 'OVER'})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--instance", type=Path, default=None, help="kept between runs (default: a new temporary one)")
    parser.add_argument("--rounds", type=int, default=10, help="passes over the queries by each of the ten clients")
    parser.add_argument("--concurrency", type=int, default=10)
    args = parser.parse_args()

    instance = (args.instance or Path(tempfile.mkdtemp(prefix="agora-search-"))).resolve()
    env = {**os.environ, "AGORA_INSTANCE": str(instance), "AGORA_SECRET_KEY": "bench"}
    prepare(instance, args.scale, env)
    queries = list(dict.fromkeys([*commonest_words(), *TYPED]))
    port = free_port()
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port), "--workers", "2", "--threads", "4", "--no-mail-sender"],
        env={**env, "AGORA_BASE_URL": f"http://127.0.0.1:{port}"},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(600):
            try:
                Browser(base).get("/healthz")
                break
            except OSError:
                time.sleep(0.1)
        people = widest_users(instance, args.concurrency)
        browsers = []
        for name in people:
            browser = Browser(base)
            browser.login(name)
            browser.get("/")
            browsers.append(browser)

        def search(browser: Browser, q: str) -> tuple[float, str]:
            began = time.perf_counter()
            page = browser.get("/search?" + urllib.parse.urlencode({"q": q})).decode()
            found = re.search(r'id="results-heading">([^<]*)<', page)
            return (time.perf_counter() - began) * 1000, found.group(1) if found else "?"

        # What the workers hold before their first search, then once every query was searched: the
        # readers, bitmaps and dates a worker keeps for the next searches.
        unwarmed = {pid: memory_kb(pid, "VmRSS") for pid in workers(server.pid)}
        # A fresh worker's first search reads each segment's dates and each word's entries once.
        cold = [search(browser, queries[0])[0] for browser in browsers[:2]]
        counts = {}
        for q in queries:  # warm: every client has searched each query once, in its own spaces
            for browser in browsers:
                counts[q] = search(browser, q)[1]
        print(f"\nscale {args.scale:g}, {len(queries)} queries, users in {len(people)} widest memberships; results:")
        for q in queries:
            print(f"  {q!r:26} {counts[q]}")

        kept = max(memory_kb(pid, "VmRSS") - unwarmed[pid] for pid in unwarmed) / 1024

        # One at a time: what a search adds to the worker that serves it.
        one_added = []
        for browser in browsers[:2]:
            for q in queries:
                pids = workers(server.pid)
                before = {pid: memory_kb(pid, "VmRSS") for pid in pids}
                for pid in pids:
                    reset_peak(pid)
                search(browser, q)
                one_added.append(max(memory_kb(pid, "VmHWM") - before[pid] for pid in pids) / 1024)

        # Ten at once.
        pids = server_pids(server.pid)
        rss_before = sum(memory_kb(pid, "VmRSS") for pid in pids)
        for pid in pids:
            reset_peak(pid)
        cpu_before, clients_before = cpu_seconds(pids), time.process_time()
        latencies: list[float] = []
        lock = threading.Lock()

        def client(browser: Browser, offset: int) -> None:
            mine = []
            for n in range(args.rounds * len(queries)):
                mine.append(search(browser, queries[(n + offset) % len(queries)])[0])
            with lock:
                latencies.extend(mine)

        began = time.perf_counter()
        threads = [threading.Thread(target=client, args=(b, n * 3)) for n, b in enumerate(browsers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        wall = time.perf_counter() - began
        cpu = cpu_seconds(pids) - cpu_before
        clients_cpu = time.process_time() - clients_before
        ten_added = sum(max(0, memory_kb(pid, "VmHWM") - 0) for pid in pids) / 1024 - rss_before / 1024
        print(
            f"\n{len(latencies)} searches by {len(browsers)} clients at once in {wall:.1f} s ({len(latencies) / wall:.1f}/s)"
        )
        print(f"  p50 latency ms      {verdict(statistics.median(latencies), BUDGET['p50'])}")
        print(f"  p99 latency ms      {verdict(percentile(latencies, 0.99), BUDGET['p99'])}")
        print(f"  server CPU ms/query {verdict(cpu * 1000 / len(latencies), BUDGET['cpu'])}")
        print(
            f"  clients' CPU ms/query {clients_cpu * 1000 / len(latencies):5.1f}  (the ten clients run on the same machine)"
        )
        print(
            f"  one search adds MB  {verdict(max(one_added), BUDGET['one'])}  (median {statistics.median(one_added):.1f})"
        )
        print(f"  ten at once add MB  {verdict(ten_added, BUDGET['ten'])}  (peak RSS over the server's processes)")
        print(
            f"  kept for searching MB {kept:5.1f}  (budget {BUDGET['one']:g}: {'ok' if kept <= BUDGET['one'] else 'OVER'})  (a worker's RSS after every query, over before the first)"
        )
        print(f"  a fresh worker's first search ms {max(cold):.0f}  (dates and bitmaps read, then kept)")
        print(f"  workers' RSS now MB {[memory_kb(pid, 'VmRSS') // 1024 for pid in workers(server.pid)]}")
    finally:
        server.terminate()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
