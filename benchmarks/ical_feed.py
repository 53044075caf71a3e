"""Time an iCal feed of one year with 500 events (a fifth of them weekly series), and a 304 answer.

    .venv/bin/python benchmarks/ical_feed.py [--events 500] [--runs 20]

Runs against a throwaway SQLite instance through the real request path (test client, no
network), and prints medians in milliseconds.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from datetime import time as clock

from flask_migrate import upgrade


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    from agora import create_app
    from agora.agenda import services
    from agora.auth.services import create_user
    from agora.extensions import db
    from agora.spaces.services import add_member, create_space

    folder = tempfile.mkdtemp(prefix="agora-bench-")
    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "bench",
            "INSTANCE_PATH": folder,
            "ARGON2_TIME_COST": 1,
            "ARGON2_MEMORY_KIB": 64,
            "ARGON2_PARALLELISM": 1,
        }
    )
    rng = random.Random(7)
    with app.test_request_context():
        upgrade(directory=app.extensions["migrate"].directory)
        user = create_user("bench", "une phrase de test")
        space = create_space("bench", "Espace de mesure", actor=None)
        add_member(space, user, "member", actor=None)
        start = date.today() - timedelta(days=120)
        for n in range(args.events):
            day = start + timedelta(days=rng.randrange(365))
            hour = rng.randrange(8, 19)
            services.create_event(
                space,
                user,
                services.EventData(
                    title=f"Événement {n}",
                    start_date=day,
                    end_date=day,
                    start_time=clock(hour),
                    end_time=clock(hour + 1),
                    location="Salle polyvalente",
                    description="Ordre du jour : **bilan** et projets.",
                    repeat="weekly" if n % 5 == 0 else "none",
                    count=20 if n % 5 == 0 else None,
                ),
            )
        raw = services.new_token(user, space)
        db.session.commit()

    client = app.test_client()
    url = f"/ical/{raw}.ics"

    def timed(headers=None):
        began = time.perf_counter()
        response = client.get(url, headers=headers or {})
        return (time.perf_counter() - began) * 1000, response

    _ms, first = timed()
    full = [timed()[0] for _ in range(args.runs)]
    etag = first.headers["ETag"]
    cached = [timed({"If-None-Match": etag})[0] for _ in range(args.runs)]
    assert timed({"If-None-Match": etag})[1].status_code == 304
    print(f"events: {args.events} ({args.events // 5} weekly series), feed size: {len(first.data) / 1024:.0f} KiB")
    print(f"full feed: median {statistics.median(full):.1f} ms, min {min(full):.1f} ms over {args.runs} runs")
    print(f"304 answer: median {statistics.median(cached):.2f} ms, min {min(cached):.2f} ms over {args.runs} runs")


if __name__ == "__main__":
    main()
