"""The database locked too long or unreachable: a clear 503 page, nothing written, recovery without restart."""

from __future__ import annotations

import re
import sqlite3
import time

import pytest
from sqlalchemy import create_engine, event, func, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from agora import extensions
from agora.forum.models import Post, Topic
from tests.conftest import post


@pytest.fixture
def forum(member_client, db):
    client, space, user = member_client("member")
    response = post(client, f"/s/{space.slug}/forum/new", {"title": "Fête", "body": "On en parle ?", "category": "0"})
    topic_id = int(re.search(r"/forum/(\d+)", response.location).group(1))
    return client, space, topic_id


def _fresh_connections(db) -> None:
    """Make the next request open its own connection, through the listeners set by the test."""
    db.session.close()
    db.engine.dispose()


def _posts(db) -> int:
    return db.session.scalar(select(func.count()).select_from(Post))


def test_an_unreachable_database_gives_a_503_page_and_the_next_request_works(app, db, forum):
    client, space, topic_id = forum
    before = _posts(db)

    def refuse(dialect, conn_rec, cargs, cparams):
        raise dialect.loaded_dbapi.OperationalError("connection refused: the database is away")

    _fresh_connections(db)
    event.listen(db.engine, "do_connect", refuse)
    try:
        for response in (
            client.get(f"/s/{space.slug}/forum/{topic_id}/"),
            post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Perdue ?"}),
        ):
            assert response.status_code == 503 and response.headers["Retry-After"] == "30"
            page = response.get_data(as_text=True)
            assert "Service momentanément indisponible" in page and "réessayez dans une minute" in page
        assert client.get("/healthz").status_code == 503
    finally:
        event.remove(db.engine, "do_connect", refuse)
    # The database is back: no restart, the same client and session cookie.
    assert client.get(f"/s/{space.slug}/forum/{topic_id}/").status_code == 200
    assert post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Revenue"}).status_code == 302
    assert _posts(db) == before + 1


def test_a_lock_held_too_long_gives_a_503_page_and_nothing_half_written(app, db, forum, database_url, monkeypatch):
    client, space, topic_id = forum
    monkeypatch.setattr(extensions, "LOCK_WAIT_MS", 300)
    _fresh_connections(db)
    before = _posts(db), db.session.get(Topic, topic_id).reply_count
    db.session.close()  # the test's own reads hold no lock either
    if database_url.startswith("sqlite"):
        holder = sqlite3.connect(make_url(database_url).database, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")  # another process writing for a long time

        def release():
            holder.rollback()
            holder.close()
    else:
        engine = create_engine(database_url)
        holder = engine.connect()
        holder.begin()
        holder.execute(text("LOCK TABLE forum_posts IN ACCESS EXCLUSIVE MODE"))

        def release():
            holder.rollback()
            holder.close()
            engine.dispose()

    try:
        started = time.monotonic()
        response = post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Pendant le verrou"})
        waited = time.monotonic() - started
        assert response.status_code == 503, response.status_code
        assert "Service momentanément indisponible" in response.get_data(as_text=True)
        assert waited < 5  # it gave up after the lock wait, it did not hang
    finally:
        release()
    db.session.expire_all()
    assert (_posts(db), db.session.get(Topic, topic_id).reply_count) == before
    assert post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "Après le verrou"}).status_code == 302
    assert _posts(db) == before[0] + 1


def test_a_database_error_inside_a_service_rolls_back_what_the_request_had_written(app, db, forum, monkeypatch):
    client, space, topic_id = forum
    from agora.forum import services

    real = services.add_reply
    before = _posts(db)

    def half_then_fail(*args, **kwargs):
        real(*args, **kwargs)  # the reply is flushed...
        raise OperationalError("UPDATE forum_topics", {}, RuntimeError("database is locked"))  # ...then the lock wins

    monkeypatch.setattr(services, "add_reply", half_then_fail)
    assert post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": "à moitié"}).status_code == 503
    assert _posts(db) == before
