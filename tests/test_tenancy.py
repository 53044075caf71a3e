"""Every URL rule under /s/<slug>/, walked from the url_map: strangers get 404, readers cannot write.

A rule with a parameter tests/factories.py does not know how to fill fails the test: a new
feature adds its parameter to FILLERS there (one object of space B) instead of going unchecked.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from agora.auth.models import User
from agora.spaces.models import Invitation, Membership, NewsItem, Space
from tests.conftest import PASSWORD, login, post
from tests.factories import DEFAULT_MEMBERSHIP, ENDPOINT_FILLERS, FILLERS


def space_rules(app):
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/s/<slug>")]
    assert len(rules) >= 10  # the walk sees the space pages
    return sorted(rules, key=lambda r: r.rule)


@pytest.fixture
def two_spaces(app, db, make_user, make_space, make_member):
    """Space A with a member and a reader; space B with its own admin and objects."""
    a, b = make_space("espace-a"), make_space("espace-b")
    member_a, reader_b, admin_b = make_user("membre.a"), make_user("lecteur.b"), make_user("admin.b")
    make_member(a, member_a, "admin")
    make_member(b, admin_b, "admin")
    make_member(b, reader_b, "reader")
    return a, b, member_a, reader_b, admin_b


def url_arguments(rule) -> set[str]:
    """The parameters a rule's path carries (not those a sibling rule gives as defaults)."""
    return rule.arguments - {"slug"} - set(rule.defaults or ())


def fill(app, db, rule, space_b, admin_b) -> dict:
    values = {"slug": space_b.slug}
    with app.test_request_context():
        space = db.session.get(Space, space_b.id)
        admin = db.session.get(User, admin_b.id)
        for name in url_arguments(rule):
            filler = ENDPOINT_FILLERS.get(rule.endpoint, {}).get(name) or FILLERS.get(name)
            if filler is None and name == "membership_id":
                filler = DEFAULT_MEMBERSHIP
            assert filler is not None, f"{rule.rule}: no way to fill <{name}>; add it to FILLERS in tests/factories.py"
            values[name] = filler(db, space, admin)
        db.session.commit()
    values.pop("slug")
    return values


def url_for_rule(app, db, rule, space_b, admin_b, slug=None) -> str:
    """The rule's path in space B (or under another slug) with objects of space B."""
    return _build(rule, fill(app, db, rule, space_b, admin_b), slug or space_b.slug)


def _build(rule, values, slug) -> str:
    path = rule.rule.replace("<slug>", slug)
    for name, value in values.items():
        for converter in ("int:", "string:", "path:", ""):
            path = path.replace(f"<{converter}{name}>", str(value))
    assert "<" not in path, path
    return path


def methods(rule):
    return sorted(rule.methods - {"HEAD", "OPTIONS"})


def test_member_of_a_gets_404_on_every_page_and_object_of_b(app, db, two_spaces):
    _a, b, member_a, _reader_b, admin_b = two_spaces
    client = app.test_client()
    login(client, member_a.username)
    checked = 0
    for rule in space_rules(app):
        url = url_for_rule(app, db, rule, b, admin_b)
        for method in methods(rule):
            response = client.get(url) if method == "GET" else post(client, url, {"title": "intrus", "role": "admin"})
            assert response.status_code == 404, f"{method} {url} gave {response.status_code}"
            assert "Secret de l" not in response.get_data(as_text=True)
            checked += 1
    assert checked >= 10
    assert db.session.scalar(select(NewsItem).where(NewsItem.title == "intrus")) is None


def test_reader_of_b_cannot_write_anything(app, db, two_spaces):
    _a, b, _member_a, reader_b, admin_b = two_spaces
    client = app.test_client()
    login(client, reader_b.username)
    read_only = {
        "spaces.home",
        "forum.list_topics",
        "forum.show_topic",
        "forum.first_unread",
        "forum.show_post",
        "members.directory",
        "members.profile",
        "members.member_vcard",
        "members.directory_vcard",
        "members.organisations",
        "members.my_details",
        "agenda.show_agenda",
        "agenda.show_event",
        "agenda.categories",
        "agenda.space_feed",
        "agenda.subscribe",
        "agenda.resources",
        "tasks.list_tasks",
        "tasks.board",
        "tasks.timeline",
        "tasks.show_task",
        "tasks.manage_lists",
        "tasks.manage_statuses",
        "documents.show_folder",
        "documents.show_document",
        "documents.download",
        "documents.view",
        "documents.download_version",
        "documents.thumbnail",
        "documents.download_zip",
        "polls.list_polls",
        "polls.show_poll",
        "polls.export_results",
    }
    #: Personal, not shared: a reader may follow a topic or a folder, say which organisation they belong
    #: to and choose their notifications (the space's defaults stay admin-only: tests/test_notifications.py).
    personal = {
        "forum.follow",
        "members.my_details",
        "agenda.subscribe",
        "documents.follow_folder",
        "space_notifications.space_preferences",
    }
    for rule in space_rules(app):
        url = url_for_rule(app, db, rule, b, admin_b)
        for method in methods(rule):
            if method == "GET" and rule.endpoint in read_only:
                assert client.get(url).status_code in (200, 302)
                continue
            if rule.endpoint in personal:
                continue
            response = (
                client.get(url)
                if method == "GET"
                else post(client, url, {"title": "lecteur", "role": "admin", "body": "lecteur"})
            )
            assert response.status_code in (403, 404), f"{method} {url} gave {response.status_code}"
    assert db.session.scalar(select(NewsItem).where(NewsItem.title == "lecteur")) is None
    role = db.session.scalar(select(Membership.role).where(Membership.user_id == reader_b.id))
    assert role == "reader"


def test_anonymous_visitor_is_sent_to_login_on_every_space_page(app, db, two_spaces):
    _a, b, _member_a, _reader_b, admin_b = two_spaces
    client = app.test_client()
    for rule in space_rules(app):
        url = url_for_rule(app, db, rule, b, admin_b)
        for method in methods(rule):
            response = client.get(url) if method == "GET" else post(client, url, {})
            assert response.status_code == 302 and "/login" in response.location, f"{method} {url}"


def test_admin_of_a_gets_404_for_objects_of_b_inside_a_urls(app, db, two_spaces):
    """B's object ids used under A's own slug are not found: services look them up in A only."""
    a, b, member_a, _reader_b, admin_b = two_spaces
    client = app.test_client()
    login(client, member_a.username, PASSWORD)
    checked = 0
    for rule in space_rules(app):
        if not url_arguments(rule):
            continue
        url = url_for_rule(app, db, rule, b, admin_b, slug=a.slug)
        for method in methods(rule):
            response = client.get(url) if method == "GET" else post(client, url, {"title": "intrus", "role": "reader"})
            assert response.status_code == 404, f"{method} {url} gave {response.status_code}"
            checked += 1
    assert checked >= 8
    assert db.session.scalar(select(Invitation.revoked_at)) is None
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == admin_b.id)) == "admin"
