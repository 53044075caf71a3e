"""The module registry is whole and consistent, and the references it declares never dangle."""

from __future__ import annotations

import ast
import re
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import delete, select

from agora import PACKAGE_DIR
from agora.auth.models import User
from agora.core import references as refs
from agora.modules import MODULES
from agora.spaces.models import MODULES as SPACE_MODULES
from agora.spaces.models import Space
from tests.factories import make_holder, page_fields, registry_pages, targets

ALL_REFERENCES = [r for m in MODULES for r in m.references]

#: Space pages (GET) that no page walk visits, and why that is right.
NOT_WALKED = {
    "agenda.space_feed": "an iCalendar file, checked by the agenda feed tests",
    "agenda.edit_occurrence": "needs the date of a series (?at=), checked by the agenda tests",
    "documents.download": "a file, not a page",
    "documents.thumbnail": "an image",
    "documents.view": "a file shown inline",
    "documents.download_version": "a file",
    "documents.download_zip": "a zip archive",
    "forum.first_unread": "a redirection to a message",
    "forum.show_post": "a redirection to its topic page",
    "forum.delete_post": "a confirmation asked before deleting",
    "members.member_vcard": "a vCard",
    "members.directory_vcard": "a vCard",
    "members.directory_csv": "a CSV file",
    "members.avatar": "an image",
    "polls.export_results": "a CSV file",
    "spaces.show_setup_link": "a one-time secret link, shown once to an admin",
    "spaces.show_invitation": "a one-time secret link, shown once to an admin",
}


def _called(node: ast.Call) -> str:
    return getattr(node.func, "attr", None) or getattr(node.func, "id", "")


def _source_verbs():
    """Activity and notification verbs written by the code: the string literals at the call sites
    (read from the syntax tree, so a call spread over several lines is read like a short one)."""
    activity, notification = set(), set()
    for path in PACKAGE_DIR.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.FunctionDef):  # def create_event(..., verb: str = "agenda.event")
                positional = node.args.args[len(node.args.args) - len(node.args.defaults) :]
                for arg, default in [
                    *zip(positional, node.args.defaults, strict=True),
                    *zip(node.args.kwonlyargs, node.args.kw_defaults, strict=True),
                ]:
                    if arg.arg == "verb" and isinstance(default, ast.Constant):
                        notification.add(default.value)
            if not isinstance(node, ast.Call):
                continue
            name = _called(node)
            if name == "record_activity" and len(node.args) > 2:
                verb = node.args[2]
                if isinstance(verb, ast.Constant) and isinstance(verb.value, str):
                    activity.add(verb.value)
            elif "notify" in name:
                for arg in node.args:
                    for part in ast.walk(arg):
                        if isinstance(part, ast.Constant) and isinstance(part.value, str):
                            notification.update(re.findall(r"^[a-z]+\.[a-z]+$", part.value))
            for keyword in node.keywords:
                if keyword.arg == "verb" and isinstance(keyword.value, ast.Constant):
                    notification.add(keyword.value.value)
    return activity, notification


def test_every_blueprint_is_registered_once_from_the_registry(app):
    declared = [bp.name for m in MODULES for bp in m.blueprints]
    assert len(declared) == len(set(declared)), declared
    assert set(declared) == set(app.blueprints)


def test_module_names_are_unique_and_the_switchable_ones_are_the_spaces_modules():
    names = [m.name for m in MODULES]
    assert len(names) == len(set(names))
    assert tuple(m.name for m in MODULES if m.switchable) == SPACE_MODULES


def test_each_switchable_module_has_a_menu_entry_of_its_own_blueprint(app):
    for module in MODULES:
        if module.switchable:
            assert module.nav, module.name
            own = {bp.name for bp in module.blueprints}
            for entry in module.nav:
                assert entry.blueprint in own and entry.endpoint.split(".")[0] in own
                assert entry.endpoint in app.view_functions


def test_every_verb_the_code_writes_has_words(app):
    activity, notification = _source_verbs()
    assert {"forum.topic", "news", "polls.closed"} <= activity  # the scan sees the call sites
    assert {"agenda.cancelled", "tasks.due", "agenda.event"} <= notification
    labels = {v: label for m in MODULES for v, label in m.activity.items()}
    sentences = {v: text for m in MODULES for v, text in m.notifications.items()}
    assert activity - labels.keys() == set()
    assert notification - sentences.keys() == set()
    with app.test_request_context():
        assert all("%(title)s" in str(text) and "%(actor)s" in str(text) for text in sentences.values())


def test_every_notification_kind_the_code_writes_is_declared_once_with_its_words(app):
    from agora.notifications.models import DELIVERIES

    written = set()
    for path in PACKAGE_DIR.rglob("*.py"):
        text = path.read_text(encoding="utf-8")
        written.update(re.findall(r'\bnotify\(\s*\w+,\s*"(\w+)"', text))
        written.update(re.findall(r'\bkind="(\w+)",\s*verb=', text))
    assert {"event", "task", "topic", "reply", "mention", "news"} <= written  # the scan sees the call sites
    declared = [k for m in MODULES for k in m.notification_kinds]
    names = [k.name for k in declared]
    assert len(names) == len(set(names))
    assert written <= set(names)
    with app.test_request_context():
        for kind in declared:
            assert kind.default in DELIVERIES, kind.name
            assert str(kind.label) and "%(count)s" in str(kind.group_subject), kind.name


def test_a_module_declares_only_its_own_kinds():
    for module in MODULES:
        if module.name in ("site", "spaces"):
            continue
        owned = [k.kind for k in module.search] + list(module.activity) + list(module.notifications)
        owned += [r.kind for r in module.references if r.kind]
        assert all(kind.split(".")[0] == module.name for kind in owned), module.name


def test_search_kinds_are_unique_and_each_module_filter_has_a_label():
    kinds = [k.kind for m in MODULES for k in m.search]
    assert len(kinds) == len(set(kinds))
    assert {m.name for m in MODULES if m.search} == set(SPACE_MODULES)


def test_every_space_page_is_walked_or_said_why_not(app):
    """A new space page of any module fails here until the registry lists it (or the reason it is not walked)."""
    adapter = app.url_map.bind("localhost")
    walked = set()
    for _module, page in registry_pages(site_admin=True):
        path = page.path.format(**{name: 1 for name in page_fields(page)}).split("?")[0]
        walked.add(adapter.match(f"/s/x{path}" if page.in_space else path, method="GET")[0])
    space_pages = {
        r.endpoint for r in app.url_map.iter_rules() if r.rule.startswith("/s/<slug>") and "GET" in r.methods
    }
    assert space_pages - walked - NOT_WALKED.keys() == set()
    assert NOT_WALKED.keys() & walked == set()  # an exception that is walked after all is out of date
    assert NOT_WALKED.keys() <= space_pages


def test_the_menu_shows_the_switched_on_modules_from_the_registry(app, db, member_client):
    client, space, _user = member_client("admin")
    db.session.get(Space, space.id).modules = ["agenda", "members"]
    db.session.commit()
    html = client.get(f"/s/{space.slug}/agenda/").get_data(as_text=True)
    menu = html.split('class="space-nav"')[1].split("</nav>")[0]
    assert f'href="/s/{space.slug}/agenda/" aria-current="page">' in menu
    assert '<use href="/static/icons.svg#calendar"></use></svg>Agenda</a>' in menu
    assert f'href="/s/{space.slug}/members/"' in menu
    assert "/forum/" not in menu and "/tasks/" not in menu


# References -------------------------------------------------------------------------------------


def test_every_reference_has_its_factories():
    assert len(ALL_REFERENCES) >= 5
    for ref in ALL_REFERENCES:
        assert ref.target in targets(), f"{ref.target.__name__}: add it to targets() in tests/factories.py"
        assert hasattr(ref.target, "space_id") and hasattr(ref.holder, "space_id")


@pytest.fixture
def two_spaces_with_admins(app, db, make_user, make_space, make_member):
    a, b = make_space("refs-a"), make_space("refs-b")
    admin = make_user("refs.admin")
    make_member(a, admin, "admin")
    make_member(b, admin, "admin")
    return a, b, admin


@pytest.mark.parametrize("ref", ALL_REFERENCES, ids=lambda r: f"{r.holder.__name__}-{r.kind or r.id_column}")
def test_deleting_a_target_through_its_service_leaves_no_reference_to_it(app, db, two_spaces_with_admins, ref):
    from agora.auth.models import User

    a, b, admin = two_spaces_with_admins
    make, remove = targets()[ref.target]
    with app.test_request_context():
        space_a, space_b, user = (
            db.session.get(Space, a.id),
            db.session.get(Space, b.id),
            db.session.get(User, admin.id),
        )
        kept_target = make(db, space_a, user)
        kept = make_holder(db, ref, space_a, user, kept_target)
        gone_target = make(db, space_b, user)
        gone = make_holder(db, ref, space_b, user, gone_target)
        db.session.commit()
        remove(db, space_b, gone_target)
        db.session.commit()
        assert db.session.get(ref.target, gone_target) is None
        assert refs.dangling(ref) == []
        holder = db.session.get(ref.holder, gone)
        if ref.nullify:
            assert getattr(holder, ref.id_column) is None
        else:
            assert holder is None
        assert getattr(db.session.get(ref.holder, kept), ref.id_column) == kept_target  # the other space's stays


def test_a_topic_deleted_with_its_first_message_takes_its_attachments(app, db, two_spaces_with_admins):
    """The messages go by the database's cascade: their attachments are swept all the same."""
    from agora.auth.models import User
    from agora.documents.models import Attachment
    from agora.forum import services as forum
    from agora.forum.models import Post, Topic
    from tests.factories import make_topic

    _a, b, admin = two_spaces_with_admins
    ref = next(r for r in ALL_REFERENCES if r.kind == "forum.post")
    with app.test_request_context():
        space, user = db.session.get(Space, b.id), db.session.get(User, admin.id)
        topic_id = make_topic(db, space, user)
        first = db.session.scalar(select(Post).where(Post.topic_id == topic_id))
        reply = forum.add_reply(space, db.session.get(Topic, topic_id), user, "Réponse")
        holders = [make_holder(db, ref, space, user, first.id), make_holder(db, ref, space, user, reply.id)]
        db.session.commit()
        forum.delete_post(space, first)
        db.session.commit()
        assert db.session.scalars(select(Attachment.id).where(Attachment.id.in_(holders))).all() == []


def test_a_bulk_delete_is_swept_too_and_a_dangling_reference_is_seen(app, db, two_spaces_with_admins):
    from agora.auth.models import User
    from agora.documents.models import Attachment
    from agora.tasks.models import Task
    from tests.factories import make_task

    _a, b, admin = two_spaces_with_admins
    ref = next(r for r in ALL_REFERENCES if r.kind == "tasks.task")
    with app.test_request_context():
        space, user = db.session.get(Space, b.id), db.session.get(User, admin.id)
        task_id = make_task(db, space, user)
        holder = make_holder(db, ref, space, user, task_id)
        db.session.commit()
        db.session.execute(delete(Task).where(Task.space_id == space.id, Task.id == task_id))
        db.session.commit()
        assert db.session.get(Attachment, holder) is None
        # What the sweep exists for: a row pointing at nothing is found.
        stray = make_holder(db, ref, space, user, task_id)
        db.session.commit()
        assert refs.dangling(ref) == [stray]


def test_registry_pages_are_served_to_a_space_admin(app, db, member_client):
    """Each page of the registry answers a space admin (the walks need them to exist)."""
    from tests.factories import page_urls

    client, space, user = member_client("admin")
    for url in page_urls(db, space.slug, user_id=user.id):
        assert client.get(url).status_code == 200, url


def test_the_search_filter_lists_the_searchable_modules_by_their_menu_names(app, db, member_client):
    client, _space, _user = member_client()
    html = client.get("/search").get_data(as_text=True)
    options = re.findall(
        r'<option value="(\w+)"[^>]*>([^<]+)</option>', html.split('id="search-module"')[1].split("</select>")[0]
    )
    assert options == [
        ("forum", "Forum"),
        ("agenda", "Agenda"),
        ("documents", "Documents"),
        ("tasks", "Tâches"),
        ("polls", "Sondages"),
        ("members", "Annuaire"),
    ]


# Panels -----------------------------------------------------------------------------------------


def _seed_panel_content(db, space, user) -> dict[str, str]:
    """Something for every panel to show to `user` in `space`: {module name: a title on its panels}."""

    with current_app.test_request_context():
        return _seed_in_request(db, db.session.get(Space, space.id), db.session.get(User, user.id))


def _seed_in_request(db, space, user) -> dict[str, str]:
    from agora.agenda import services as agenda
    from agora.core.time import utcnow
    from agora.forum import services as forum
    from agora.polls import services as polls
    from agora.tasks import services as tasks

    tomorrow = utcnow().date() + timedelta(days=1)
    agenda.create_event(
        space,
        user,
        agenda.EventData(title="Pique-nique du panneau", start_date=tomorrow, end_date=tomorrow, all_day=True),
    )
    task_list = tasks.save_list(space, name="Liste du panneau", description="")
    tasks.save_task(
        space,
        None,
        tasks.TaskData(title="Tâche du panneau", list_id=task_list.id, assignee_ids=(user.id,)),
        actor=user,
    )
    polls.create_poll(space, user, polls.PollData(question="Sondage du panneau", options=["Oui", "Non"]))
    forum.create_topic(space, user, title="Sujet du panneau", body="Bonjour", category_id=None)
    db.session.commit()
    return {
        "agenda": "Pique-nique du panneau",
        "tasks": "Tâche du panneau",
        "polls": "Sondage du panneau",
        "forum": "Sujet du panneau",
    }


def _panel_heading(template: str) -> str:
    """The id of the heading a panel's partial is labelled by (each partial is one section)."""
    source = (PACKAGE_DIR.parent / "templates" / template).read_text(encoding="utf-8")
    return re.search(r'aria-labelledby="([^"]+)"', source).group(1)


def _panel_pages(space, user) -> dict[str, str]:
    return {"home": f"/s/{space.slug}/", "profile": "/profile", "member": f"/s/{space.slug}/members/{user.id}"}


def test_every_declared_panel_renders_for_a_member(app, db, member_client):
    client, space, user = member_client("member")
    titles = _seed_panel_content(db, space, user)
    declared = [
        (m, page, panel)
        for m in MODULES
        for page in ("home", "profile", "member")
        for panel in getattr(m, f"{page}_panels")
    ]
    assert {m.name for m, _, _ in declared} <= titles.keys(), "seed content for the new module's panels above"
    assert {page for _, page, _ in declared} == {"home", "profile", "member"}
    pages = {page: client.get(url) for page, url in _panel_pages(space, user).items()}
    for module, page, panel in declared:
        response = pages[page]
        assert response.status_code == 200, (page, module.name)
        html = response.get_data(as_text=True)
        assert f'id="{_panel_heading(panel.template)}"' in html, (page, module.name)
        if page != "profile":  # my calendar subscriptions: none yet, the panel says where to make one
            assert titles[module.name] in html, (page, module.name)


def test_a_switched_off_module_shows_no_panel(app, db, member_client):
    client, space, user = member_client("member")
    titles = _seed_panel_content(db, space, user)
    db.session.get(Space, space.id).modules = ["members"]
    db.session.commit()
    for page, url in _panel_pages(space, user).items():
        html = client.get(url).get_data(as_text=True)
        for module in MODULES:
            if module.switchable and module.name != "members" and page != "profile":
                for panel in getattr(module, f"{page}_panels"):
                    assert f'id="{_panel_heading(panel.template)}"' not in html, (page, module.name)
                if page == "member":  # the home's activity feed still names what happened
                    assert titles.get(module.name, "\0") not in html, (page, module.name)
    # My profile is outside any space: the agenda's subscriptions stay, whatever a space switched off.
    assert 'id="subscriptions-heading"' in client.get("/profile").get_data(as_text=True)
