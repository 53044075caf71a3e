"""Two versions of Agora side by side on the same data: CPU ms per request and PSS, runs interleaved.

    .venv/bin/python benchmarks/compare.py OTHER_SOURCE_TREE [--scale 1] [--rounds 3] [--duration 5]

OTHER_SOURCE_TREE is another checkout of Agora (e.g. `git worktree add /tmp/before main`); it is
run from this virtualenv with that tree first on PYTHONPATH. Each version makes its own instance
(`agora init`, `agora demo --spaces 30`: the same rows) and serves it with `agora serve`'s defaults; each
page is driven by wrk against one, then the other, `--rounds` times: whatever else the machine is
doing weighs on both alike. Prints per page each version's CPU ms per request (all its processes,
summed over the rounds) and the ratio, then each one's PSS at rest and at peak.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import tempfile
import time

from load import AGORA, CPU_BUDGET, WRK, Peak, drive_wrk, memory, sessions, start_server, targets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("other")
    parser.add_argument("--scale", default="1")
    parser.add_argument("--spaces", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--pages", default="", help="comma-separated page names (default: all but search)")
    args = parser.parse_args()
    if not WRK:
        raise SystemExit("compare.py needs wrk (Debian: apt-get install wrk)")
    base = {k: v for k, v in os.environ.items() if not k.startswith("AGORA_")}
    instance = tempfile.mkdtemp(prefix="agora-compare-")
    envs = {
        "this": {**base, "AGORA_INSTANCE": instance},
        "other": {**base, "AGORA_INSTANCE": instance + "-other", "PYTHONPATH": os.path.abspath(args.other)},
    }
    # Each version makes its own instance (its own migrations); `agora demo` writes the same rows every time.
    for server_env in envs.values():
        subprocess.run([AGORA, "init"], env=server_env, check=True, capture_output=True)
        subprocess.run(
            [AGORA, "demo", "--spaces", str(args.spaces), "--scale", args.scale],
            env=server_env,
            check=True,
            capture_output=True,
        )
    pages, members = targets(instance)
    pages.pop("search")  # needs an index, minutes to build; benchmarks/search.py measures it
    chosen = [p for p in args.pages.split(",") if p] or list(pages)
    servers, hosts, peaks, rest = {}, {}, {}, {}
    try:
        for name, server_env in envs.items():
            servers[name], hosts[name] = start_server(server_env)
        time.sleep(2)
        for name, server in servers.items():
            rest[name] = memory(server.pid)[1]
            peaks[name] = Peak(server.pid)
            peaks[name].start()
        cookies = {name: sessions(hosts[name], members, args.concurrency) for name in servers}
        totals = {page: {name: [0.0, 0] for name in servers} for page in chosen}
        for _ in range(args.rounds):
            for page in chosen:
                for name, server in servers.items():
                    r = drive_wrk(hosts[name], pages[page], cookies[name], args.duration, server.pid)
                    totals[page][name][0] += r["cpu_ms"] * r["requests"]
                    totals[page][name][1] += r["requests"]
                    if r["errors"]:
                        print(
                            f"  {name} {page}: {r['non2xx']} answers other than 2xx, {r['socket_errors']} socket"
                            " errors or timeouts (wrk gives up after 2 s)"
                        )
        for peak in peaks.values():
            peak.stop.set()
    finally:
        for server in servers.values():
            server.terminate()
            server.wait(timeout=30)
    print(
        f"\nscale {args.scale}, {args.rounds} interleaved rounds of {args.duration} s per page, wrk -c{args.concurrency}"
    )
    print(f"{'page':22} {'other':>8} {'this':>8}  this/other  budget (CPU ms/request)")
    for page in chosen:
        values = {name: cpu / (count or 1) for name, (cpu, count) in totals[page].items()}
        budget = CPU_BUDGET.get(page)
        verdict = "" if budget is None else f"≤ {budget}: " + ("met" if values["this"] <= budget else "NOT met")
        print(
            f"{page:22} {values['other']:8.1f} {values['this']:8.1f}  {values['this'] / values['other']:9.2f}  {verdict}"
        )
    for name in servers:
        print(f"PSS {name}: at rest {rest[name]} MB, peak {peaks[name].pss} MB")
    shutil.rmtree(instance, ignore_errors=True)
    shutil.rmtree(instance + "-other", ignore_errors=True)


if __name__ == "__main__":
    main()
