"""Where a page's time goes: cProfile over repeated requests, in-process, with the benchmark's data.

    AGORA_INSTANCE=/path/to/instance .venv/bin/python benchmarks/profile_pages.py [--requests 50] [--top 15]

The instance is one made by `agora init` and `agora demo --spaces 30 --scale 1` (benchmarks/load.py
makes the same). Logs in a member of `quartier-01` through the test client, asks each page a few
times to warm up, then times `--requests` more (CPU time of this process) and profiles as many
again; prints per page: CPU ms per request, SQL statements and writes per request, and the functions with the most own time.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _client import CSRF, PASSWORD  # noqa: E402
from load import targets  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--pages", default="topic (25 replies),space home,documents folder")
    args = parser.parse_args()
    from sqlalchemy import event

    from agora import create_app
    from agora.extensions import db

    instance = os.environ["AGORA_INSTANCE"]
    pages, members = targets(instance)
    app = create_app()
    statements = {"all": 0, "writes": 0}
    with app.app_context():

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(conn, cursor, statement, parameters, context, executemany):
            statements["all"] += 1
            if statement.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE"):
                statements["writes"] += 1

    client = app.test_client()
    token = CSRF.search(client.get("/login").get_data(as_text=True)).group(1)
    client.post("/login", data={"csrf_token": token, "username": members[0], "password": PASSWORD})
    for name in (n.strip() for n in args.pages.split(",")):
        path = pages[name]
        for _ in range(5):
            assert client.get(path).status_code == 200, path
        statements.update(all=0, writes=0)
        began = time.process_time()
        for _ in range(args.requests):
            client.get(path)
        cpu = (time.process_time() - began) * 1000 / args.requests
        profile = cProfile.Profile()
        profile.enable()
        for _ in range(args.requests):
            client.get(path)
        profile.disable()
        print(
            f"\n== {name} {path}: {cpu:.1f} CPU ms/request (in process, without the profiler), "
            f"{statements['all'] / args.requests / 2:.1f} SQL statements, {statements['writes'] / args.requests / 2:.1f} writes"
        )
        stats = pstats.Stats(profile)
        stats.sort_stats("tottime").print_stats(args.top)
        stats.sort_stats("cumulative").print_stats(args.top + 15)


if __name__ == "__main__":
    main()
