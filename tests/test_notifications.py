"""Notifications: the bell, preferences and space defaults, grouped mails and digests over real SMTP."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, timedelta
from email import message_from_bytes, policy

import pytest
from icalendar import Calendar
from sqlalchemy import func, select

from agora.auth.models import User
from agora.core import mail
from agora.core.mail import OutboxMessage
from agora.documents.models import Folder
from agora.notifications import mails, services
from agora.notifications.models import Notification, NotificationPreference
from agora.spaces.models import Membership
from tests.conftest import PARIS, free_port, login, post
from tests.test_agenda import event_form
from tests.test_documents import upload


@pytest.fixture
def council(app, db, make_user, make_space, make_member):
    """A space with an admin (Odile), two members with addresses (Marc in English) and one without."""
    space = make_space("conseil", "Conseil citoyen")
    people = {
        "odile": make_user("odile", display_name="Odile", email="odile@example.org"),
        "marc": make_user("marc", display_name="Marc", email="marc@example.org"),
        "rene": make_user("rene", display_name="René", email="rene@example.org"),
        "sans": make_user("sans", display_name="Sans Adresse"),
    }
    make_member(space, people["odile"], "admin")
    for name in ("marc", "rene", "sans"):
        make_member(space, people[name], "member")
    db.session.get(User, people["marc"].id).language = "en"
    db.session.commit()
    clients = {}
    for name in people:
        clients[name] = app.test_client()
        assert login(clients[name], name).status_code == 302
    return space, people, clients


def topic(client, space, title="Fête de quartier", body="On en parle ?"):
    response = post(client, f"/s/{space.slug}/forum/new", {"title": title, "body": body, "category": "0"})
    assert response.status_code == 302
    return int(re.search(r"/forum/(\d+)", response.location).group(1))


def reply(client, space, topic_id, body):
    assert post(client, f"/s/{space.slug}/forum/{topic_id}/reply", {"body": body}).status_code == 302


def outbox_for(db, address) -> list[OutboxMessage]:
    return db.session.scalars(
        select(OutboxMessage).where(OutboxMessage.recipient == address).order_by(OutboxMessage.id)
    ).all()


def test_reply_mail_arrives_over_smtp_in_the_readers_language_with_text_html_and_unsubscribe_headers(
    app, db, council, clock, smtp_server, smtp_config
):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_FROM="agora@quartier.example")
    space, people, clients = council
    topic_id = topic(clients["marc"], space)
    reply(clients["odile"], space, topic_id, "Je viendrai avec <script>alert(1)</script> des gâteaux")
    clock.advance(minutes=9)
    assert mails.compose_due() == 0  # ten quiet minutes first: a burst would join this mail
    clock.advance(minutes=2)
    assert mails.compose_due() == 1
    assert mail.send_pending().sent == 1
    [received] = [m for m in handler.messages if m["To"] == "marc@example.org"]
    # As sent (compat32 keeps the raw header): the plain <https://…> form, not RFC 2047 encoded words.
    assert re.fullmatch(r"<http://localhost/unsubscribe/[\w.-]+>", received["List-Unsubscribe"]), received[
        "List-Unsubscribe"
    ]
    message = message_from_bytes(received.as_bytes(), policy=policy.default)
    assert message["Subject"] == "[Conseil citoyen] Odile replied in “Fête de quartier”"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = re.fullmatch(r"<(http://localhost/unsubscribe/[\w.-]+)>", received["List-Unsubscribe"])
    assert unsubscribe
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    assert "Hello Marc," in text and f"http://localhost/s/conseil/forum/{topic_id}/#post-" in text
    assert "<script>" in text  # plain text shows what was written...
    assert "<script>" not in html and "&lt;script&gt;" in html  # ...HTML never runs it
    assert unsubscribe.group(1) in html
    assert mail.send_pending().sent == 0  # nothing twice


def test_ten_replies_within_the_hour_make_one_mail(app, db, council, clock):
    space, people, clients = council
    topic_id = topic(clients["marc"], space)
    start = clock.now
    for n in range(10):
        reply(clients["odile"] if n % 2 else clients["rene"], space, topic_id, f"Réponse {n}")
        clock.advance(minutes=5)
        mails.compose_due()
        assert outbox_for(db, "marc@example.org") == []  # the conversation is still going
    clock.now = start + timedelta(minutes=60)  # an hour after the first: it leaves
    mails.compose_due()
    [message] = outbox_for(db, "marc@example.org")
    assert message.subject == "[Conseil citoyen] 10 new messages in “Fête de quartier”"
    assert all(f"Réponse {n}" in message.body for n in range(10))
    # René and Odile follow the topic too: each hears of the other's replies, never of their own (and
    # as each replies only every ten minutes, their mails are not held back by the other's burst).
    rene = db.session.scalars(
        select(Notification.actor_name).where(
            Notification.user_id == people["rene"].id, Notification.verb == "forum.reply"
        )
    ).all()
    assert rene == ["Odile"] * 5
    clock.advance(minutes=30)
    mails.compose_due()
    assert len(outbox_for(db, "marc@example.org")) == 1


def test_event_mail_carries_an_ics_of_the_event(app, db, council, clock):
    space, people, clients = council
    assert post(clients["odile"], f"/s/{space.slug}/agenda/new", event_form(title="Plénière")).status_code == 302
    clock.advance(minutes=11)
    mails.compose_due()
    [message] = outbox_for(db, "rene@example.org")
    assert message.subject == "[Conseil citoyen] Odile a ajouté l'événement « Plénière »"
    assert "Quand : mardi 8 décembre 2026, 18:00" in message.body and "12 rue des Tilleuls" in message.body
    calendar = Calendar.from_ical(message.calendar)
    [vevent] = calendar.walk("VEVENT")
    assert str(vevent["SUMMARY"]) == "Plénière" and vevent.decoded("DTSTART").hour == 18
    built = mail._as_email(message)
    [attachment] = list(built.iter_attachments())
    assert attachment.get_content_type() == "text/calendar" and attachment.get_filename() == "invitation.ics"
    assert outbox_for(db, "odile@example.org") == []  # never about one's own action


def test_daily_and_weekly_digests_leave_at_seven_in_the_persons_zone(app, db, council, make_space, make_member, clock):
    space, people, clients = council
    other = make_space("gup", "GUP Tilleuls")
    for name in ("odile", "rene"):
        make_member(other, people[name], "admin" if name == "odile" else "member")
    rene = db.session.get(User, people["rene"].id)
    services.save_preferences(rene, None, {"topic": "daily", "news": "weekly"})
    db.session.commit()
    topic(clients["odile"], space, "Budget participatif")
    topic(clients["odile"], other, "Propreté des halls")
    assert (
        post(
            clients["odile"], f"/s/{space.slug}/news/new", {"title": "Permanence samedi", "body": "De 10 h à 12 h"}
        ).status_code
        == 302
    )
    # Created Monday 10:00 in Paris. The daily digest is due Tuesday 07:00 in Paris.
    monday = clock.now.astimezone(PARIS)

    def paris(days: int, hour: int, minute: int):
        return (monday + timedelta(days=days)).replace(hour=hour, minute=minute).astimezone(UTC)

    clock.now = paris(1, 6, 59)
    mails.compose_due()
    assert outbox_for(db, "rene@example.org") == []
    clock.advance(minutes=2)
    mails.compose_due()
    [digest] = outbox_for(db, "rene@example.org")
    assert digest.subject == "[2 espaces] Votre résumé du jour : 2 nouveautés"
    assert "== Conseil citoyen ==" in digest.body and "== GUP Tilleuls ==" in digest.body
    assert "Budget participatif" in digest.body and "Propreté des halls" in digest.body
    assert "Permanence" not in digest.body  # news waits for the weekly one
    clock.now = paris(7, 6, 59)  # the next Monday
    mails.compose_due()
    assert len(outbox_for(db, "rene@example.org")) == 1
    clock.advance(minutes=2)
    mails.compose_due()
    assert len(outbox_for(db, "rene@example.org")) == 2
    weekly = outbox_for(db, "rene@example.org")[-1]
    assert weekly.subject == "[Conseil citoyen] Votre résumé de la semaine : 1 nouveauté"
    assert "Permanence samedi" in weekly.body


def test_space_defaults_personal_choices_and_space_overrides(app, db, council, clock):
    space, people, clients = council
    url = f"/s/{space.slug}/notifications/"
    everyone_none = {kind: "none" for kind in ("topic", "reply", "mention", "event", "task", "document", "news")}
    assert post(clients["rene"], url, {"scope": "space", **everyone_none}).status_code == 403  # admins only
    assert post(clients["odile"], url, {"scope": "space", "event": "nonsense"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(NotificationPreference)) == 0
    assert post(clients["odile"], url, {"scope": "space", "event": "none"}).status_code == 302
    # Marc chose for himself everywhere; René chose weekly for this space only; "sans" has no address.
    assert post(clients["marc"], "/notifications/preferences", {**{k: "now" for k in everyone_none}}).status_code == 302
    assert post(clients["rene"], url, {"scope": "mine", "event": "weekly"}).status_code == 302
    assert post(clients["odile"], f"/s/{space.slug}/agenda/new", event_form()).status_code == 302
    rows = {
        n.user_id: (n.delivery, n.mail_due_at is not None)
        for n in db.session.scalars(select(Notification).where(Notification.kind == "event"))
    }
    assert rows == {
        people["marc"].id: ("now", True),
        people["rene"].id: ("weekly", True),
        people["sans"].id: ("none", False),
    }
    page = clients["rene"].get(url).get_data(as_text=True)
    assert 'value="weekly" selected' in page and "Par défaut pour les membres" not in page
    assert "Par défaut pour les membres" in clients["odile"].get(url).get_data(as_text=True)


def test_one_click_unsubscribe_needs_no_login_and_a_forged_link_changes_nothing(app, db, council, clock):
    space, people, clients = council
    topic_id = topic(clients["rene"], space)
    reply(clients["odile"], space, topic_id, "Oui")
    clock.advance(minutes=11)
    mails.compose_due()
    [message] = outbox_for(db, "rene@example.org")
    link = re.search(r"<http://localhost(/unsubscribe/[\w.-]+)>", message.headers["List-Unsubscribe"]).group(1)
    stranger = app.test_client()
    assert stranger.post(link[:-3] + "abc", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    page = stranger.get(link)  # a mail scanner opening the link changes nothing
    assert page.status_code == 200 and "Confirmer" in page.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(NotificationPreference)) == 0
    reply(clients["odile"], space, topic_id, "Encore")  # waiting for its mail when René unsubscribes
    response = stranger.post(link, data={"List-Unsubscribe": "One-Click"})  # RFC 8058, no cookie, no token
    assert response.status_code == 200 and "C'est fait" in response.get_data(as_text=True)
    prefs = db.session.execute(
        select(NotificationPreference.user_id, NotificationPreference.kind, NotificationPreference.delivery)
    ).all()
    assert prefs == [(people["rene"].id, "reply", "none")]
    clock.advance(hours=2)
    assert mails.compose_due() == 0  # the waiting one is not sent
    assert (
        db.session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.user_id == people["rene"].id, Notification.read_at.is_(None))
        )
        == 2
    )


def test_bell_counts_unread_opens_marks_read_and_hides_other_peoples(app, db, council, clock):
    space, people, clients = council
    topic_id = topic(clients["rene"], space, "Jardin partagé")
    reply(clients["odile"], space, topic_id, "Bonne idée")
    reply(clients["marc"], space, topic_id, "I'm in")
    home = clients["rene"].get("/").get_data(as_text=True)
    assert re.search(r'class="bell".*class="badge badge-new">2<span class="visually-hidden"> non lues</span>', home)
    page = clients["rene"].get("/notifications").get_data(as_text=True)
    assert "Marc a répondu dans « Jardin partagé »" in page and "2 notifications non lues." in page
    first = db.session.scalar(
        select(Notification).where(Notification.user_id == people["rene"].id).order_by(Notification.id)
    )
    assert clients["marc"].get(f"/notifications/{first.id}/open").status_code == 404  # not his
    assert post(clients["marc"], f"/notifications/{first.id}/read").status_code == 404
    opened = clients["rene"].get(f"/notifications/{first.id}/open")
    assert opened.status_code == 302 and opened.location == first.url
    assert "1 notification non lue." in clients["rene"].get("/notifications").get_data(as_text=True)
    assert post(clients["rene"], "/notifications/read-all").status_code == 302
    assert "Tout est lu." in clients["rene"].get("/notifications").get_data(as_text=True)
    bell = re.search(r'class="bell".*?</a>', clients["rene"].get("/").get_data(as_text=True)).group(0)
    assert "badge" not in bell


def test_people_without_address_get_the_bell_only_and_nothing_fails(app, db, council, clock):
    space, people, clients = council
    topic(clients["odile"], space)
    clock.advance(days=8)
    mails.compose_due()
    notice = db.session.scalar(select(Notification).where(Notification.user_id == people["sans"].id))
    assert notice.delivery == "none" and notice.mail_due_at is None
    assert {m.recipient for m in db.session.scalars(select(OutboxMessage))} == {"marc@example.org", "rene@example.org"}
    assert "Odile a ouvert la discussion" in clients["sans"].get("/notifications").get_data(as_text=True)


def test_someone_who_leaves_hears_no_more(app, db, council, clock):
    space, people, clients = council
    topic_id = topic(clients["rene"], space)
    reply(clients["odile"], space, topic_id, "Oui")
    membership = db.session.scalar(select(Membership).where(Membership.user_id == people["rene"].id))
    assert post(clients["odile"], f"/s/{space.slug}/members/manage/{membership.id}/remove").status_code == 302
    assert (
        db.session.scalar(
            select(func.count()).select_from(Notification).where(Notification.user_id == people["rene"].id)
        )
        == 0
    )
    clock.advance(hours=2)
    mails.compose_due()
    assert outbox_for(db, "rene@example.org") == []


def test_a_crash_while_composing_writes_nothing_and_the_next_round_sends_once(app, db, council, clock, monkeypatch):
    space, people, clients = council
    topic(clients["odile"], space)
    clock.advance(days=2)
    calls = []

    def failing(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 2:
            raise RuntimeError("the process dies here")
        return real(*args, **kwargs)

    real = mails.queue_mail
    monkeypatch.setattr(mails, "queue_mail", failing)
    with pytest.raises(RuntimeError):
        mails.compose_due()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 0
    assert (
        db.session.scalar(select(func.count()).select_from(Notification).where(Notification.mail_due_at.is_not(None)))
        == 2
    )
    monkeypatch.setattr(mails, "queue_mail", real)
    assert mails.compose_due() == 2
    assert mails.compose_due() == 0
    assert sorted(m.recipient for m in db.session.scalars(select(OutboxMessage))) == [
        "marc@example.org",
        "rene@example.org",
    ]


def test_dead_smtp_server_then_recovery_every_notification_mail_sent_once(
    app, db, council, clock, smtp_server, smtp_config
):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())  # refused: nobody listens
    space, people, clients = council
    for n in range(3):
        topic_id = topic(clients["odile"], space, f"Sujet {n}")
        reply(clients["rene"], space, topic_id, "Présent")
    clock.advance(days=2)
    written = mails.compose_due()
    assert written == 5  # Marc's and René's digests of the topics, three reply mails for Odile
    assert mail.send_pending().retried == written
    clock.advance(seconds=30)
    assert mail.send_pending() == mail.SendReport()  # not yet due again
    smtp_config.update(SMTP_PORT=controller.port)
    clock.advance(seconds=31)
    assert mail.send_pending().sent == written
    clock.advance(hours=1)
    assert mail.send_pending().sent == 0
    assert sorted(m["To"] for m in handler.messages) == sorted(
        ["marc@example.org", "rene@example.org"] + ["odile@example.org"] * 3
    )


def test_following_a_folder_tells_of_new_files_below_it_but_not_of_attachments(app, db, council, clock):
    space, people, clients = council
    assert (
        post(clients["rene"], f"/s/{space.slug}/documents/new-folder", {"new-name": "Comptes rendus"}).status_code
        == 302
    )
    folder = db.session.scalar(select(Folder).where(Folder.name == "Comptes rendus"))
    assert (
        post(clients["rene"], f"/s/{space.slug}/documents/folders/{folder.id}/follow", {"on": "1"}).status_code == 302
    )
    assert (
        upload(clients["odile"], space.slug, [("CR mars.txt", b"Compte rendu")], folder_id=folder.id).status_code == 302
    )
    assert (
        post(
            clients["odile"],
            f"/s/{space.slug}/forum/new",
            {"title": "PJ", "body": "voir", "category": "0"},
        ).status_code
        == 302
    )
    told = db.session.scalars(
        select(Notification.title).where(Notification.user_id == people["rene"].id, Notification.kind == "document")
    ).all()
    assert told == ["CR mars.txt"]
    assert (
        post(clients["rene"], f"/s/{space.slug}/documents/folders/{folder.id}/follow", {"on": "0"}).status_code == 302
    )
    assert (
        upload(clients["odile"], space.slug, [("CR avril.txt", b"Compte rendu")], folder_id=folder.id).status_code
        == 302
    )
    assert db.session.scalar(select(func.count()).select_from(Notification).where(Notification.kind == "document")) == 1


def test_the_sender_sends_a_thousand_mails_while_the_site_keeps_writing(app, db, council, smtp_server, smtp_config):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    space, people, clients = council
    for n in range(1000):
        mail.queue_mail(f"habitant{n}@example.org", f"Message {n}", "Bonjour")
    db.session.commit()
    from agora.notifications.sender import one_round

    done = threading.Event()
    result = {}

    def send():
        result["round"] = one_round(app)
        done.set()

    sender = threading.Thread(target=send)
    sender.start()
    topic_id = topic(clients["odile"], space)
    slowest, writes = 0.0, 0
    while not done.is_set():
        started = time.perf_counter()
        reply(clients["marc"], space, topic_id, f"Pendant l'envoi {writes}")
        slowest = max(slowest, time.perf_counter() - started)
        writes += 1
    sender.join()
    assert result["round"][1] == 1000 and len(handler.messages) == 1000
    assert mail.outbox_counts()["sent"] == 1000
    assert writes >= 3, "the site could not write while mails were leaving"
    print(f"\n1000 mails sent while {writes} replies were posted; slowest reply {slowest * 1000:.0f} ms")


def test_a_deleted_event_never_brings_another_spaces_event_into_a_mail(
    app, db, council, make_user, make_space, make_member, clock
):
    """Space A adds then deletes an event; space B's next event must not ride in A's members' mails,
    neither by a reused id nor by an id read without its space."""
    space, people, clients = council
    response = post(clients["odile"], f"/s/{space.slug}/agenda/new", event_form(title="Plénière"))
    deleted_id = int(re.search(r"/agenda/(\d+)/", response.location).group(1))
    assert post(clients["odile"], f"/s/{space.slug}/agenda/{deleted_id}/delete", {}).status_code == 302
    other = make_space("gup", "GUP Sud")
    make_member(other, make_user("gaelle", display_name="Gaëlle"), "admin")
    gaelle = app.test_client()
    login(gaelle, "gaelle")
    response = post(
        gaelle, f"/s/{other.slug}/agenda/new", event_form(title="Visite privée", location="3 impasse Secrète")
    )
    assert int(re.search(r"/agenda/(\d+)/", response.location).group(1)) != deleted_id  # ids are never handed out again
    clock.advance(minutes=11)
    mails.compose_due()
    messages = outbox_for(db, "rene@example.org")
    assert messages, "the members of the first space still hear of the cancellation"
    for message in messages:
        assert "Visite privée" not in message.body and "Secrète" not in message.body
        assert message.calendar is None or "Secrète" not in message.calendar


def test_a_stale_event_id_is_read_inside_its_own_space_only(
    app, db, council, make_user, make_space, make_member, clock
):
    space, people, clients = council
    assert (
        post(
            clients["odile"],
            f"/s/{space.slug}/forum/new",
            {"title": "Point propreté", "body": "Bilan", "category": "0"},
        ).status_code
        == 302
    )
    other = make_space("gup", "GUP Sud")
    make_member(other, make_user("gaelle", display_name="Gaëlle"), "admin")
    gaelle = app.test_client()
    login(gaelle, "gaelle")
    response = post(
        gaelle, f"/s/{other.slug}/agenda/new", event_form(title="Visite privée", location="3 impasse Secrète")
    )
    foreign_id = int(re.search(r"/agenda/(\d+)/", response.location).group(1))
    # A row naming an id of another space (as one written before that id was reused would).
    for row in db.session.scalars(select(Notification).where(Notification.space_id == space.id)):
        row.event_id = foreign_id
    db.session.commit()
    clock.advance(days=1)  # new topics come in the daily digest
    mails.compose_due()
    [message] = outbox_for(db, "rene@example.org")
    assert "Point propreté" in message.body
    assert message.calendar is None and "Quand" not in message.body


def test_previews_show_the_words_without_markdown_or_escaped_html(app, db, council, clock):
    space, people, clients = council
    topic_id = topic(clients["rene"], space, "Encombrants")
    reply(
        clients["odile"],
        space,
        topic_id,
        "Les **encombrants** passent lundi : [signalement en ligne](https://exemple.fr/signaler?rue=1&n=2)\n\n"
        "> Et les <b>gros</b> cartons ?",
    )
    notice = db.session.scalar(select(Notification).where(Notification.user_id == people["rene"].id))
    assert notice.excerpt == "Les encombrants passent lundi : signalement en ligne Et les <b>gros</b> cartons ?"
    page = clients["rene"].get("/notifications").get_data(as_text=True)
    excerpt = re.search(r'<span class="excerpt">(.*?)</span>', page).group(1)
    assert excerpt == "Les encombrants passent lundi : signalement en ligne Et les &lt;b&gt;gros&lt;/b&gt; cartons ?"
    assert "**" not in page and "](" not in page and "&amp;lt;" not in page
