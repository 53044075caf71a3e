"""Durable jobs: written with the change, run after it by the background process, retried, never lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agora.core import jobs
from agora.core.time import utcnow
from agora.extensions import db as _db
from agora.search import indexing
from tests.conftest import post


def topic(client, slug, title, body="Le texte du sujet."):
    response = post(client, f"/s/{slug}/forum/new", {"title": title, "body": body, "category": "0"})
    assert response.status_code == 302
    return response.location


def found(client, q) -> str:
    response = client.get("/search", query_string={"q": q})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def rows(app):
    with app.app_context():
        return [
            (job.kind, job.status, job.attempts, job.payload, job.last_error)
            for job in _db.session.scalars(select(jobs.Job).order_by(jobs.Job.id))
        ]


def test_the_writing_request_leaves_the_index_to_the_background_process(app, db, member_client, background_jobs):
    client, space, _user = member_client("member")
    background_jobs()  # the new member's entry: the index exists
    topic(client, space.slug, "Ramassage des encombrants")
    assert "0 résultat" in found(client, "encombrants")  # the request did not wait for the index
    [(kind, status, attempts, payload, _error)] = [r for r in rows(app) if "forum.topic" in str(r[3])]
    assert (kind, status, attempts) == ("search.index", "pending", 0)
    assert background_jobs() >= 1
    assert "Ramassage des encombrants" in found(client, "encombrants")
    assert rows(app) == []  # a job done leaves no row


def test_a_job_is_written_only_if_its_change_commits(app, db, member_client, background_jobs):
    from agora.forum import services as forum
    from agora.spaces.models import Space

    client, space, user = member_client("member")
    background_jobs()
    before = len(rows(app))
    with app.test_request_context():
        from agora.auth.models import User

        stored, author = _db.session.get(Space, space.id), _db.session.get(User, user.id)
        forum.create_topic(stored, author, title="Sujet abandonné", body="Jamais enregistré.", category_id=None)
        _db.session.flush()
        _db.session.rollback()
    assert len(rows(app)) == before == 0
    assert background_jobs() == 0
    assert "0 résultat" in found(client, "abandonné")


def test_a_crash_between_commit_and_indexing_loses_nothing(app, db, member_client, background_jobs, monkeypatch):
    """The server dies after the commit: the job is there at the next start, and a failing run is retried."""
    from agora.notifications import sender

    client, space, _user = member_client("member")
    background_jobs()
    topic(client, space.slug, "Marche exploratoire")

    def crash(_changes):
        raise RuntimeError("killed while writing the index")

    with monkeypatch.context() as patched:
        patched.setattr(indexing, "apply", crash)
        assert background_jobs() == 0
    [(_kind, status, attempts, _payload, error)] = [r for r in rows(app) if "forum.topic" in str(r[3])]
    assert (status, attempts) == ("pending", 1) and "killed while writing the index" in error
    assert background_jobs() == 0  # it waits before its retry
    with app.app_context():
        assert jobs.run_pending(now=utcnow() + timedelta(minutes=1)) >= 1
    assert "Marche exploratoire" in found(client, "exploratoire")

    # A runner killed mid-run leaves its claim: taken back once stale, at the next start.
    topic(client, space.slug, "Atelier numérique")
    with app.app_context():
        for job in _db.session.scalars(select(jobs.Job)):
            job.status, job.run_after = "running", utcnow() - jobs.STALE_CLAIM - timedelta(seconds=1)
        _db.session.commit()
    assert sender.run_jobs(app) >= 1  # what the background process does as it starts, then twice a second
    assert "Atelier numérique" in found(client, "atelier")


def test_a_job_that_keeps_failing_is_given_up_and_kept(app, db, monkeypatch):
    calls = []
    monkeypatch.setitem(jobs._HANDLERS, "test.fail", lambda payloads: calls.append(payloads) or 1 / 0)
    with app.app_context():
        jobs.enqueue("test.fail", {"n": 1})
        _db.session.commit()
        for attempt in range(jobs.MAX_ATTEMPTS):
            jobs.run_pending(now=utcnow() + timedelta(hours=2 * attempt + 2))
        assert jobs.counts() == {"pending": 0, "running": 0, "failed": 1}
        assert jobs.run_pending(now=utcnow() + timedelta(days=30)) == 0
    assert len(calls) == jobs.MAX_ATTEMPTS
    [(_kind, status, attempts, _payload, error)] = rows(app)
    assert status == "failed" and attempts == jobs.MAX_ATTEMPTS and "ZeroDivisionError" in error


def test_a_handler_gets_every_claimed_payload_of_its_kind_at_once_and_a_job_is_claimed_once(app, db, monkeypatch):
    batches = []
    monkeypatch.setitem(jobs._HANDLERS, "test.batch", batches.append)
    with app.app_context():
        for n in range(3):
            jobs.enqueue("test.batch", {"n": n})
        _db.session.commit()
        claimed = jobs._claim(10, utcnow())
        assert [job.payload["n"] for job in claimed] == [0, 1, 2]
        assert jobs._claim(10, utcnow()) == []  # a second runner finds nothing to take
        _db.session.execute(jobs.update(jobs.Job).values(status="pending"))
        _db.session.commit()
        assert jobs.run_all() == 3
    assert batches == [[{"n": 0}, {"n": 1}, {"n": 2}]]
    assert rows(app) == []


def test_an_unknown_kind_is_refused(app, db):
    with app.app_context():
        with pytest.raises(KeyError):
            jobs.enqueue("nobody.handles", {})


def test_a_savepoint_inside_the_transaction_loses_none_of_its_changes(app, db, member_client):
    """SQLAlchemy reports a released savepoint as a commit: the changes before it still wait for the real one."""
    from agora.auth.models import User
    from agora.forum import services as forum
    from agora.spaces.models import Space

    client, space, user = member_client("member")
    with app.app_context(), app.test_request_context():  # its own context: its jobs run as it ends
        stored, author = _db.session.get(Space, space.id), _db.session.get(User, user.id)
        forum.create_topic(stored, author, title="Avant le point de sauvegarde", body="Premier.", category_id=None)
        with _db.session.begin_nested():
            _db.session.flush()
        forum.create_topic(stored, author, title="Après le point de sauvegarde", body="Second.", category_id=None)
        _db.session.commit()
    page = found(client, "sauvegarde")
    assert "Avant le point de sauvegarde" in page and "Après le point de sauvegarde" in page and "2 résultats" in page


def test_changes_before_a_savepoint_are_announced_once_the_transaction_commits(app, db, member_client):
    from agora.auth.models import User
    from agora.core.events import content_changed
    from agora.forum import services as forum
    from agora.spaces.models import Space

    _client, space, user = member_client("member")
    heard = []

    def listener(sender, change):
        heard.append(change.kind)

    content_changed.connect(listener)
    try:
        with app.app_context(), app.test_request_context():
            stored, author = _db.session.get(Space, space.id), _db.session.get(User, user.id)
            forum.create_topic(stored, author, title="Avant", body="Premier.", category_id=None)
            with _db.session.begin_nested():
                _db.session.flush()
            assert heard == []  # the savepoint is not the commit
            _db.session.commit()
            assert heard == ["forum.topic", "forum.post"]
    finally:
        content_changed.disconnect(listener)
