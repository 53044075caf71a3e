"""Every main page runs as many queries for a small space as for one ten times fuller."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from agora import scale
from agora.agenda.views import FEEDS
from agora.auth.models import User
from agora.core.time import utcnow
from agora.documents.models import Document, Folder
from agora.forum.models import Topic
from agora.spaces.models import Membership, Space
from tests.conftest import login
from tests.test_queries import count_queries

PAGES = {
    "dashboard": "/",
    "space home": "{base}/",
    "forum topic list": "{base}/forum/",
    "topic": "{base}/forum/{topic}/",
    "agenda month": "{base}/agenda/?view=month&month={month}",
    "agenda list": "{base}/agenda/",
    "iCal feed": "{base}/agenda.ics",
    "documents folder": "{base}/documents/folders/{folder}",
    "download": "{base}/documents/{document}/download",
    "task list": "{base}/tasks/",
    "task board": "{base}/tasks/board",
    "member directory": "{base}/members/",
    "polls": "{base}/polls/",
    "search": "/search?q=jardin",
    "notifications": "/notifications",
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
        admin = db.session.scalar(select(User).join(Membership, Membership.user_id == User.id)
                                  .join(Space, Space.id == Membership.space_id)
                                  .where(Space.slug == "petit-01", Membership.role == "admin"))
        db.session.add(Membership(space_id=db.session.scalar(select(Space.id).where(Space.slug == "grand-01")),
                                  user_id=admin.id, role="admin"))
        db.session.commit()
        reindex()
        return admin.username, small, big


def _urls(db, slug: str) -> dict[str, str]:
    space_id = db.session.scalar(select(Space.id).where(Space.slug == slug))
    first = {model: db.session.scalar(select(model.id).where(model.space_id == space_id).order_by(model.id))
             for model in (Topic, Folder, Document)}
    topic = db.session.scalar(select(Topic.id).where(Topic.space_id == space_id).order_by(Topic.reply_count.desc()))
    # The month of the two events every generated space has next week, whatever today's date.
    month = (utcnow() + timedelta(days=7)).strftime("%Y-%m")
    values = {"base": f"/s/{slug}", "topic": topic, "folder": first[Folder], "document": first[Document], "month": month}
    return {name: template.format(**values) for name, template in PAGES.items()}


def test_each_main_page_runs_the_same_queries_with_ten_times_the_data(app, db, spaces):
    username, _small, _big = spaces
    client = app.test_client()
    assert login(client, username, scale.PASSWORD).status_code == 302
    small, big = _urls(db, "petit-01"), _urls(db, "grand-01")
    assert db.session.scalar(select(Topic.reply_count).where(Topic.id == int(big["topic"].split("/")[-2]))) >= 25
    for url in list(small.values()) + list(big.values()):  # first visits write read markers: not measured
        assert client.get(url).status_code == 200, url
    counts = {}
    for name in PAGES:
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
