"""Every URL rule under /s/<slug>/, walked from the url_map: strangers get 404, readers cannot write.

A rule with a parameter this file does not know how to fill fails the test: a new feature
adds its parameter to FILLERS (one object of space B) instead of going unchecked.
"""
from __future__ import annotations

import pytest
from sqlalchemy import select

from agora.auth.models import User
from agora.spaces import services
from agora.spaces.models import Invitation, Membership, NewsItem, Space
from agora.spaces.tenancy import membership_in
from tests.conftest import PASSWORD, login, post


def _news(db, space, user):
    news = NewsItem(space_id=space.id, author_id=user.id, title="Annonce privée", body="Secret de l'espace B")
    db.session.add(news)
    db.session.flush()
    return news.id


def _membership(db, space, user):
    return db.session.scalar(select(Membership.id).where(Membership.space_id == space.id, Membership.user_id == user.id))


def _unset_membership(db, space, user):
    """A member of B whose account was never set up (the setup-link pages need one)."""
    from agora.auth.services import create_user, get_user_by_username

    newcomer = get_user_by_username("pas.active") or create_user("pas.active", None)
    return (membership_in(newcomer, space) or services.add_member(space, newcomer, "member", actor=None)).id


def _invitation(db, space, user):
    invitation, _raw = services.create_invitation(space, role="member", max_uses=5, days=3, label="B", actor=user)
    return invitation.id


def _topic(db, space, user):
    from agora.forum import services as forum

    return forum.create_topic(space, user, title="Sujet privé de B", body="Secret de l'espace B", category_id=None).id


def _post(db, space, user):
    from agora.forum import services as forum
    from agora.forum.models import Topic

    topic = db.session.get(Topic, _topic(db, space, user))
    return forum.add_reply(space, topic, user, "Réponse secrète de B").id


def _category(db, space, user):
    from agora.forum import services as forum

    return forum.save_category(space, None, name=f"Thème B {len(forum.list_categories(space))}", colour="#112233",
                               position=0).id


def _user(db, space, user):
    return user.id


def _organisation(db, space, user):
    from agora.members import services as members

    return members.save_organisation(space, None, name=f"Structure B {len(members.list_organisations(space))}",
                                     description="").id


def _event(db, space, user):
    from datetime import date, time

    from agora.agenda import services as agenda

    data = agenda.EventData(title="Réunion secrète de B", start_date=date(2030, 3, 5), end_date=date(2030, 3, 5),
                            start_time=time(18), end_time=time(20), repeat="weekly", count=5,
                            description="Secret de l'espace B")
    return agenda.create_event(space, user, data).id


def _task(db, space, user):
    from agora.tasks import services as tasks

    task_list = tasks.lists(space)[0] if tasks.lists(space) else tasks.save_list(space, name="Liste B", description="")
    task = tasks.save_task(space, None, tasks.TaskData(title="Tâche secrète de B", list_id=task_list.id,
                                                        description="Secret de l'espace B"), actor=user)
    return task.id


def _checklist_item(db, space, user):
    from agora.tasks import services as tasks
    from agora.tasks.models import Task

    return tasks.add_checklist_item(space, db.session.get(Task, _task(db, space, user)), "Élément B").id


def _status(db, space, user):
    from agora.tasks import services as tasks

    return tasks.statuses(space)[1].id


def _folder(db, space, user):
    from agora.documents import services as documents

    tree = documents.Tree.load(space)
    return documents.create_folder(space, tree, None, f"Dossier B {len(tree.by_id)}", actor=user).id


def _document(db, space, user):
    """A small image of B, so its thumbnail and inline view exist too."""
    import io

    from PIL import Image
    from werkzeug.datastructures import FileStorage

    from agora.documents import services as documents

    picture = io.BytesIO()
    Image.new("RGB", (8, 8), "red").save(picture, "PNG")
    picture.seek(0)
    document, _new = documents.store_file(space, documents.Tree.load(space), None,
                                          FileStorage(picture, filename="Secret de l'espace B.png"), actor=user,
                                          on_conflict="rename")
    db.session.commit()
    return document.id


def _latest_document(db, space, user):
    """The newest document of B (made when there is none): with _version, one pair, in either order."""
    from sqlalchemy import func

    from agora.documents.models import Document

    latest = db.session.scalar(select(func.max(Document.id)).where(Document.space_id == space.id,
                                                                    Document.deleted_at.is_(None)))
    return latest or _document(db, space, user)


def _version(db, space, user):
    from agora.documents.models import Document

    return db.session.get(Document, _latest_document(db, space, user)).current_version_id


def _trashed_folder(db, space, user):
    from agora.documents.models import Folder

    folder = db.session.get(Folder, _folder(db, space, user))
    folder.deleted_at = folder.created_at
    return folder.id


def _trashed_document(db, space, user):
    from agora.documents.models import Document

    document = db.session.get(Document, _document(db, space, user))
    document.deleted_at = document.created_at
    return document.id


def _poll(db, space, user):
    from agora.polls import services as polls

    return polls.create_poll(space, user, polls.PollData(question="Sondage secret de B", options=["Oui", "Non"])).id


def _date_poll(db, space, user):
    """The newest date poll of B (made when there is none), so poll and option ids pair up."""
    from datetime import datetime, timezone

    from sqlalchemy import func

    from agora.polls import services as polls
    from agora.polls.models import Poll

    latest = db.session.scalar(select(func.max(Poll.id)).where(Poll.space_id == space.id, Poll.kind == "dates"))
    if latest:
        return latest
    slots = [datetime(2031, 3, day, 18, tzinfo=timezone.utc) for day in (3, 5)]
    return polls.create_poll(space, user, polls.PollData(question="Date secrète de B", kind="dates", slots=slots)).id


def _date_option(db, space, user):
    from agora.polls.models import PollOption

    return db.session.scalar(select(PollOption.id).where(PollOption.poll_id == _date_poll(db, space, user)))


#: URL parameter -> function(db, space B, an admin of B) returning an id that belongs to space B.
FILLERS = {
    "news_id": _news,
    "invitation_id": _invitation,
    "topic_id": _topic,
    "post_id": _post,
    "category_id": _category,
    "user_id": _user,
    "organisation_id": _organisation,
    "event_id": _event,
    "task_id": _task,
    "item_id": _checklist_item,
    "status_id": _status,
    "folder_id": _folder,
    "document_id": _document,
    "version_id": _version,
    "trashed_folder_id": _trashed_folder,
    "trashed_document_id": _trashed_document,
    "poll_id": _poll,
}
#: Per-endpoint overrides, where the same parameter name needs a particular kind of object.
ENDPOINT_FILLERS = {
    "spaces.new_setup_link": {"membership_id": _unset_membership},
    "spaces.show_setup_link": {"membership_id": _unset_membership},
    "documents.download_version": {"document_id": _latest_document},
    "documents.restore_version": {"document_id": _latest_document},
    "polls.make_event": {"poll_id": _date_poll, "option_id": _date_option},
}
DEFAULT_MEMBERSHIP = _membership


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
            assert filler is not None, f"{rule.rule}: no way to fill <{name}>; add it to FILLERS"
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
    read_only = {"spaces.home", "forum.list_topics", "forum.show_topic", "forum.first_unread", "forum.show_post",
                 "members.directory", "members.profile", "members.member_vcard", "members.directory_vcard",
                 "members.organisations", "members.my_details",
                 "agenda.show_agenda", "agenda.show_event", "agenda.categories", "agenda.space_feed", "agenda.subscribe",
                 "agenda.resources", "tasks.list_tasks", "tasks.board", "tasks.timeline", "tasks.show_task",
                 "tasks.manage_lists", "tasks.manage_statuses",
                 "documents.show_folder", "documents.show_document", "documents.download", "documents.view",
                 "documents.download_version", "documents.thumbnail", "documents.download_zip",
                 "polls.list_polls", "polls.show_poll", "polls.export_results"}
    #: Personal, not shared: a reader may follow a topic or a folder, say which organisation they belong
    #: to and choose their notifications (the space's defaults stay admin-only: tests/test_notifications.py).
    personal = {"forum.follow", "members.my_details", "agenda.subscribe", "documents.follow_folder",
                "space_notifications.space_preferences"}
    for rule in space_rules(app):
        url = url_for_rule(app, db, rule, b, admin_b)
        for method in methods(rule):
            if method == "GET" and rule.endpoint in read_only:
                assert client.get(url).status_code in (200, 302)
                continue
            if rule.endpoint in personal:
                continue
            response = client.get(url) if method == "GET" else post(client, url, {"title": "lecteur", "role": "admin", "body": "lecteur"})
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
