"""Search over 30 spaces and about 100,000 indexed items: full reindex time, then query times.

    .venv/bin/python benchmarks/search.py [--items 100000] [--runs 5]

Seeds a throwaway SQLite instance with forum topics and replies written from French
neighbourhood vocabulary (bulk inserts), rebuilds the index as `agora search reindex` does, then
runs realistic queries as a member of every space through the search service (parsing, the
index, reloading and checking each hit in the database) and prints median and p95 times.
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

from flask_migrate import upgrade

from agora.scale import sentence

QUERIES = ["réunion", "jardin partagé", '"compte rendu"', "éclairage passage", "fête quartier", "encombrants",
           "jard*", "bénévoles", "bailleur gardien", "budget participatif", "reunions", "salle polyvalente"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    from sqlalchemy import insert, select

    from agora import create_app
    from agora.auth.services import create_user
    from agora.core.time import utcnow
    from agora.extensions import db
    from agora.forum.models import Post, Topic
    from agora.search import services
    from agora.search.indexing import reindex
    from agora.spaces.services import add_member, create_space

    folder = tempfile.mkdtemp(prefix="agora-bench-")
    app = create_app({"TESTING": True, "SECRET_KEY": "bench", "INSTANCE_PATH": folder,
                      "ARGON2_TIME_COST": 1, "ARGON2_MEMORY_KIB": 64, "ARGON2_PARALLELISM": 1})
    rng = random.Random(7)
    with app.test_request_context():
        upgrade(directory=app.extensions["migrate"].directory)
        user = create_user("lecture", "une phrase de test")
        spaces = [create_space(f"espace-{n}", f"Espace {n}", actor=None) for n in range(30)]
        for space in spaces:
            add_member(space, user, "member", actor=None)
        db.session.commit()
        began = time.perf_counter()
        now = utcnow()
        topics_per_space = max(1, args.items // 30 // 10)
        for space in spaces:
            db.session.execute(insert(Topic), [
                {"space_id": space.id, "author_id": user.id, "title": sentence(rng)[:150], "created_at": now,
                 "last_post_at": now} for _ in range(topics_per_space)])
        topic_rows = db.session.execute(select(Topic.id, Topic.space_id)).all()
        posts = []
        for topic_id, space_id in topic_rows:
            for n in range(10):
                posts.append({"space_id": space_id, "topic_id": topic_id, "author_id": user.id, "is_first": n == 0,
                              "body": " ".join(sentence(rng) for _ in range(3)), "body_html": "", "created_at": now})
        for start in range(0, len(posts), 5000):
            db.session.execute(insert(Post), posts[start:start + 5000])
        db.session.commit()
        seeded = time.perf_counter() - began
        began = time.perf_counter()
        count = reindex()
        reindex_seconds = time.perf_counter() - began
        timings = {q: [] for q in QUERIES}
        totals, more = {}, {}
        for _ in range(args.runs):
            for q in QUERIES:
                began = time.perf_counter()
                page = services.search(user, q)
                timings[q].append((time.perf_counter() - began) * 1000)
                totals[q], more[q] = page.total, not page.exact
                db.session.rollback()
    every = sorted(t for values in timings.values() for t in values)
    print(f"seeded 30 spaces in {seeded:.1f} s; indexed {count} items (full reindex) in {reindex_seconds:.1f} s")
    for q in QUERIES:
        print(f"  {q!r:24} {totals[q]:>4}{'+' if more[q] else ' '} hits  median {statistics.median(timings[q]):6.1f} ms")
    p95 = every[int(len(every) * 0.95) - 1]
    print(f"all queries ({len(every)}): median {statistics.median(every):.1f} ms, p95 {p95:.1f} ms")


if __name__ == "__main__":
    main()
