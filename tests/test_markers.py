"""Visits and read positions are written after the pages that move them, many at once, not by them."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import event, select

from agora.core import markers
from agora.core.time import utcnow
from agora.forum.models import Topic, TopicRead
from agora.spaces.models import Membership
from tests.conftest import login, post


@pytest.fixture
def deferred(app, monkeypatch):
    """Markers as in production: noted by the request, written by this process's thread."""
    monkeypatch.setitem(app.config, "MARKER_DELAY_MS", 50)
    yield
    wait_until_written()


def wait_until_written(timeout: float = 5) -> None:
    deadline = time.monotonic() + timeout
    while markers.pending.values and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not markers.pending.values, "the markers were not written"
    time.sleep(0.05)  # the round that took them has committed


@pytest.fixture
def writes(app):
    """The write statements run by requests, as (verb, table)."""
    from agora.extensions import db

    seen = []
    with app.app_context():
        engine = db.engine

    def count(conn, cursor, statement, parameters, context, executemany):
        words = statement.split()
        if words[0].upper() in ("INSERT", "UPDATE", "DELETE"):
            seen.append((words[0].upper(), words[2 if words[0].upper() != "UPDATE" else 1].strip('"')))

    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


def test_opening_the_home_after_news_writes_nothing_then_the_visit_is_written_shortly_after(
    app, member_client, make_user, make_member, db, frozen_clock, deferred, writes
):
    admin_client, space, _admin = member_client("admin")
    reader = make_user("lectrice", display_name="Lectrice")
    membership = make_member(space, reader, "reader")
    client = app.test_client()
    login(client, "lectrice")
    frozen_clock.advance(hours=1)
    post(admin_client, f"/s/{space.slug}/news/new", {"title": "Fête des voisins", "body": "Samedi"})
    assert "1 nouveauté" in client.get("/").get_data(as_text=True)
    wait_until_written()
    writes.clear()

    frozen_clock.advance(minutes=5)
    assert "Fête des voisins" in client.get(f"/s/{space.slug}/").get_data(as_text=True)
    assert writes == []  # the page only read
    assert client.get(f"/s/{space.slug}/").status_code == 200  # this process knows the visit moved
    assert writes == []
    wait_until_written()
    assert writes == [("UPDATE", "memberships")]  # one round for both visits
    db.session.expire_all()
    assert db.session.get(Membership, membership.id).last_visit_at == utcnow()
    assert "Rien de nouveau" in client.get("/").get_data(as_text=True)


def test_reading_a_topic_moves_the_read_position_after_the_page(
    app, member_client, make_user, make_member, db, deferred, writes
):
    admin_client, space, _admin = member_client("admin")
    post(admin_client, f"/s/{space.slug}/forum/new", {"title": "Jardin partagé", "body": "Qui arrose ?"})
    reader = make_user("lecteur")
    make_member(space, reader, "member")
    client = app.test_client()
    login(client, "lecteur")
    wait_until_written()
    unread = client.get(f"/s/{space.slug}/forum/?unread=1").get_data(as_text=True)
    assert "Jardin partagé" in unread
    topic_url = f"/s/{space.slug}/forum/{db.session.scalar(select(Topic.id))}/"
    writes.clear()
    assert "Qui arrose ?" in client.get(topic_url).get_data(as_text=True)
    assert writes == []
    wait_until_written()
    assert writes == [("INSERT", "forum_reads")]
    row = db.session.scalars(select(TopicRead).where(TopicRead.user_id == reader.id)).one()
    assert row.last_read_post_id > 0
    assert "Jardin partagé" not in client.get(f"/s/{space.slug}/forum/?unread=1").get_data(as_text=True)


def test_a_round_the_database_refuses_is_kept_and_written_at_the_next(app, member_client, db, deferred, monkeypatch):
    client, space, user = member_client("member")
    calls = []
    real = markers._WRITERS["visit"]

    def refuses_once(items):
        calls.append(dict(items))
        if len(calls) == 1:
            from sqlalchemy.exc import OperationalError

            raise OperationalError("UPDATE memberships", {}, Exception("database is locked"))
        real(items)

    monkeypatch.setitem(markers._WRITERS, "visit", refuses_once)
    monkeypatch.setattr(markers, "RETRY_AFTER", 0.05)

    with app.test_request_context():
        membership = db.session.scalar(select(Membership).where(Membership.user_id == user.id))
        markers.note("visit", membership.id, utcnow())
    wait_until_written()
    assert len(calls) == 2 and calls[0] == calls[1]
    db.session.expire_all()
    assert db.session.get(Membership, membership.id).last_visit_at == utcnow()
