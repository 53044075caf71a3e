"""Hostile text in every field a person can fill is shown as text on every page that shows it."""

from __future__ import annotations

import io
from datetime import date, time, timedelta
from html.parser import HTMLParser

from werkzeug.datastructures import FileStorage

from agora.core.time import utcnow

PAYLOADS = [
    '<script>alert("x1")</script>',
    '"><img src=x onerror=alert(2)>',
    "<svg/onload=alert(3)>",
    '[lien](javascript:alert(4)) <a href="javascript:alert(5)">clic</a>',
    "'><iframe src=//evil.example></iframe>",
    '<img src=x onerror="window.__agoraXss=6">',
]


class MarkupInspector(HTMLParser):
    """Parses a page as a browser would and lists what a payload could have turned into markup."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        if tag in ("iframe", "object", "embed"):
            self.found.append(f"<{tag}>")
        if tag == "script":
            self._in_script = dict(attrs).get("src") is None
        for name, value in attrs:
            if name.startswith("on"):
                self.found.append(f"<{tag} {name}=...>")
            if name in ("href", "src", "action", "formaction") and (value or "").strip().lower().startswith(
                "javascript:"
            ):
                self.found.append(f"<{tag} {name}={value}>")
            if tag == "img" and name == "src" and value == "x":
                self.found.append("<img src=x>")

    def handle_data(self, data):
        if self._in_script:
            self.found.append(f"inline script: {data[:40]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def markup_from_payloads(html: str) -> list[str]:
    inspector = MarkupInspector()
    inspector.feed(html)
    return inspector.found


def _seed(app, space_id, user_id):
    from agora.agenda import services as agenda
    from agora.auth.models import User
    from agora.documents import services as documents
    from agora.extensions import db
    from agora.forum import services as forum
    from agora.members import services as members
    from agora.polls import services as polls
    from agora.spaces import services as spaces
    from agora.spaces.models import Space
    from agora.tasks import services as tasks

    with app.app_context(), app.test_request_context():  # its own context: the search index follows at its end
        space, user = db.session.get(Space, space_id), db.session.get(User, user_id)
        members.update_profile_details(
            user, phone="", presentation=" ".join(PAYLOADS), privacy={"presentation": "members"}
        )
        user.display_name = PAYLOADS[1][:80]
        task_list = tasks.save_list(space, name="Liste", description=PAYLOADS[0])
        tree = documents.Tree.load(space)
        for n, payload in enumerate(PAYLOADS):
            forum.create_topic(space, user, title=payload[:150], body=payload, category_id=None)
            spaces.save_news(space, None, title=payload, body=payload, is_pinned=n == 0, author=user)
            agenda.create_event(
                space,
                user,
                agenda.EventData(
                    title=payload,
                    location=payload,
                    description=payload,
                    start_date=date.today(),
                    end_date=date.today(),
                    start_time=time(18),
                    end_time=time(19),
                ),
            )
            tasks.save_task(
                space, None, tasks.TaskData(title=payload, list_id=task_list.id, description=payload), actor=user
            )
            members.save_organisation(space, None, name=f"{payload[:60]} {n}", description=payload)
            folder = documents.create_folder(space, tree, None, f"{payload[:60]} {n}", actor=user)
            documents.store_file(
                space, tree, folder, FileStorage(io.BytesIO(b"x"), filename=f"{payload[:60]}.txt"), actor=user
            )
            polls.create_poll(
                space, user, polls.PollData(question=payload, description=payload, options=[payload, f"{payload} bis"])
            )
        db.session.commit()


def payload_pages(db, slug: str, author_id: int) -> list[str]:
    """Every page of the registry, on what _seed wrote (the space's first topic, event, task...),
    and the search and bell pages that show it."""
    from tests.factories import page_urls

    return [*page_urls(db, slug, user_id=author_id), "/search?q=alert", "/search?q=clic", "/notifications?page=2"]


def test_no_payload_is_rendered_as_markup(app, db, member_client, make_user, make_member):
    client, space, viewer = member_client("admin")
    from agora.auth.models import User

    db.session.get(User, viewer.id).email = "lectrice@example.org"
    db.session.commit()
    user = make_user()  # another member writes, so the viewer's bell and mails carry the payloads too
    make_member(space, user, "member")
    _seed(app, space.id, user.id)
    from sqlalchemy import select

    for path in payload_pages(db, space.slug, user.id):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert markup_from_payloads(html) == [], path
    assert "&lt;script&gt;alert" in client.get(f"/s/{space.slug}/forum/").get_data(as_text=True)
    assert "<mark" in client.get("/search?q=clic").get_data(as_text=True)  # the payloads were indexed and shown
    from agora.core.mail import OutboxMessage
    from tests.conftest import deliver_notifications

    assert deliver_notifications(utcnow() + timedelta(days=8)) >= 2
    sent = db.session.scalars(select(OutboxMessage)).all()
    for message in sent:
        assert markup_from_payloads(message.html) == [], message.subject
    assert any("&lt;script&gt;" in message.html for message in sent)  # the payloads are in the mails, escaped


def test_the_inspector_sees_each_payload_when_it_is_not_escaped():
    for payload in PAYLOADS[:3] + ['<a href="javascript:alert(5)">clic</a>', PAYLOADS[4]]:
        assert markup_from_payloads(f"<p>{payload}</p>"), payload
    assert markup_from_payloads("<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>") == []
