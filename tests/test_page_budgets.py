"""Every page of the registry runs as many queries for a small space as for one ten times fuller."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agora import scale
from agora.agenda.views import FEEDS
from agora.auth.models import User
from agora.core.time import utcnow
from agora.documents.models import Document
from agora.forum.models import Topic
from agora.spaces.models import Membership, Space
from agora.tasks.models import TaskAssignee
from tests.conftest import login, post
from tests.factories import named_page_urls
from tests.test_queries import count_queries

#: Besides every page of the registry (tests/factories.py fills them), with what grows in a big space.
EXTRA_PAGES = {
    "agenda month": "{base}/agenda/?view=month&month={month}",
    "iCal feed": "{base}/agenda.ics",
    "download": "{base}/documents/{document}/download",
    "search": "/search?q=jardin",
}


@pytest.fixture
def spaces(app):
    """A small space (scale 0.05) and a full one (scale 0.5) with the same admin, both searchable."""
    from agora.extensions import db
    from agora.search.indexing import reindex

    with app.test_request_context():
        small = scale.seed(1, 0.05, prefix="petit")
        big = scale.seed(1, 0.5, prefix="grand")
        db.session.flush()
        admin = db.session.scalar(
            select(User)
            .join(Membership, Membership.user_id == User.id)
            .join(Space, Space.id == Membership.space_id)
            .where(Space.slug == "petit-01", Membership.role == "admin")
        )
        db.session.add(
            Membership(
                space_id=db.session.scalar(select(Space.id).where(Space.slug == "grand-01")),
                user_id=admin.id,
                role="admin",
            )
        )
        db.session.commit()
        reindex()
        return admin.username, small, big


def _urls(db, slug: str, user_id: int) -> dict[str, str]:
    space_id = db.session.scalar(select(Space.id).where(Space.slug == slug))
    document = db.session.scalar(select(Document.id).where(Document.space_id == space_id).order_by(Document.id))
    topic = db.session.scalar(select(Topic.id).where(Topic.space_id == space_id).order_by(Topic.reply_count.desc()))
    # The month of the two events every generated space has next week, whatever today's date.
    month = (utcnow() + timedelta(days=7)).strftime("%Y-%m")
    values = {"base": f"/s/{slug}", "document": document, "month": month}
    # A task with someone assigned, in both spaces alike (the page loads them only when there are some).
    task = db.session.scalar(
        select(TaskAssignee.task_id).where(TaskAssignee.space_id == space_id).order_by(TaskAssignee.task_id)
    )
    pages = named_page_urls(db, slug, user_id=user_id, values={"topic_id": topic, "task_id": task})
    # The week of those events too: an empty week skips the queries a week with events runs.
    pages["/s/<slug>/agenda/?view=week"] += f"&date={(utcnow() + timedelta(days=7)).date().isoformat()}"
    return {**pages, **{name: template.format(**values) for name, template in EXTRA_PAGES.items()}}


def test_each_main_page_runs_the_same_queries_with_ten_times_the_data(app, db, spaces):
    username, _small, _big = spaces
    client = app.test_client()
    assert login(client, username, scale.PASSWORD).status_code == 302
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    small, big = _urls(db, "petit-01", user_id), _urls(db, "grand-01", user_id)
    assert small.keys() == big.keys() and len(small) > 40
    topic = int(big["/s/<slug>/forum/{topic_id}/"].split("/")[-2])
    assert db.session.scalar(select(Topic.reply_count).where(Topic.id == topic)) >= 25
    for url in list(small.values()) + list(big.values()):  # first visits write read markers: not measured
        assert client.get(url).status_code == 200, url
    counts = {}
    for name in small:
        measured = []
        for url in (small[name], big[name]):
            FEEDS.entries.clear()  # the feed is built each time, not served from the cache
            with count_queries(db.engine) as statements:
                response = client.get(url)
            assert response.status_code == 200, url
            measured.append(len(statements))
        counts[name] = measured
    grew = {name: c for name, c in counts.items() if c[0] != c[1]}
    assert grew == {}, f"queries per page (small, big): {grew}"
    assert {name: c[1] for name, c in counts.items() if c[1] > 20} == {}


def _writes(statements: list[str]) -> list[str]:
    return [s for s in statements if s.lstrip().split(None, 1)[0].upper() in ("INSERT", "UPDATE", "DELETE")]


def test_a_page_seen_again_writes_nothing(app, db, spaces):
    """A GET that changes nothing a person could see does not write (and so never waits for SQLite's writer)."""
    username, _small, _big = spaces
    client = app.test_client()
    assert login(client, username, scale.PASSWORD).status_code == 302
    user_id = db.session.scalar(select(User.id).where(User.username == username))
    urls = _urls(db, "petit-01", user_id)
    for url in urls.values():  # the first visit moves read markers and the visit forward
        assert client.get(url).status_code == 200, url
    wrote = {}
    for name, url in urls.items():
        with count_queries(db.engine) as statements:
            assert client.get(url).status_code == 200, url
        if _writes(statements):
            wrote[name] = _writes(statements)
    assert wrote == {}


def test_space_home_records_the_visit_only_when_something_is_new(
    app, db, member_client, make_user, make_member, frozen_clock
):
    from agora.spaces.models import Activity

    admin_client, space, _admin = member_client("admin")
    reader = make_user("lectrice")
    make_member(space, reader, "reader")
    client = app.test_client()
    login(client, "lectrice")
    client.get(f"/s/{space.slug}/")
    visit = db.session.scalar(select(Membership.last_visit_at).where(Membership.user_id == reader.id))
    assert visit is not None
    with count_queries(db.engine) as statements:
        client.get(f"/s/{space.slug}/")
    assert _writes(statements) == []
    frozen_clock.advance(minutes=5)
    assert post(admin_client, f"/s/{space.slug}/news/new", {"title": "Une", "body": "x"}).status_code == 302
    assert db.session.scalar(select(Activity.created_at).order_by(Activity.id.desc())) > visit
    with count_queries(db.engine) as statements:
        client.get(f"/s/{space.slug}/")
    assert [s.split()[0] for s in _writes(statements)] == ["UPDATE"]
    db.session.expire_all()
    assert db.session.scalar(select(Membership.last_visit_at).where(Membership.user_id == reader.id)) > visit


def test_a_new_space_task_pages_keep_their_default_statuses_once(db, member_client):
    from sqlalchemy import func

    from agora.tasks.models import TaskStatus

    client, space, _admin = member_client("reader")
    assert client.get(f"/s/{space.slug}/tasks/").status_code == 200
    assert db.session.scalar(select(func.count()).select_from(TaskStatus).where(TaskStatus.space_id == space.id)) == 3
    for page in ("", "board"):
        with count_queries(db.engine) as statements:
            response = client.get(f"/s/{space.slug}/tasks/{page}")
        assert response.status_code == 200 and "À faire" in response.get_data(as_text=True)
        assert _writes(statements) == []
