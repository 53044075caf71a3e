"""Pages run a bounded number of queries whatever the number of spaces, members and activity rows."""

from __future__ import annotations

from contextlib import contextmanager

from sqlalchemy import event

from agora.auth.models import User
from agora.spaces import services
from agora.spaces.models import Space
from tests.conftest import login


@contextmanager
def count_queries(engine):
    statements = []

    def record(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", record)


def seed(app, db, user_id: int, spaces: int, members_each: int, news_each: int) -> str:
    with app.test_request_context():
        user = db.session.get(User, user_id)
        slug = None
        for n in range(spaces):
            space = services.create_space(f"seed-{spaces}-{n}", f"Espace {n}", actor=None)
            services.add_member(space, user, "admin", actor=None)
            for m in range(members_each):
                from agora.auth.services import create_user

                services.add_member(space, create_user(f"s{spaces}-{n}-{m}", None), "member", actor=None)
            for k in range(news_each):
                services.save_news(space, None, title=f"Nouvelle {k}", body="", is_pinned=k == 0, author=user)
            slug = space.slug
        db.session.commit()
    return slug


def page_queries(app, db, client, url) -> int:
    with count_queries(db.engine) as statements:
        response = client.get(url)
    assert response.status_code == 200
    return len(statements)


def test_dashboard_and_space_home_query_counts_do_not_grow_with_data(app, db, make_user):
    user = make_user("compteur")
    client = app.test_client()
    login(client, "compteur")

    small_slug = seed(app, db, user.id, spaces=2, members_each=2, news_each=2)
    small = (page_queries(app, db, client, "/"), page_queries(app, db, client, f"/s/{small_slug}/"))

    big_slug = seed(app, db, user.id, spaces=30, members_each=10, news_each=15)
    assert db.session.query(Space).count() == 32
    big = (page_queries(app, db, client, "/"), page_queries(app, db, client, f"/s/{big_slug}/"))

    assert big == small
    assert big[0] <= 5 and big[1] <= 11, big  # open polls on the home, the bell: one query each
