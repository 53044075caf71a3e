"""Attachments: the forum, the agenda and tasks keep their files in the space's documents."""

from __future__ import annotations

import re

from sqlalchemy import func, select

from agora.documents.models import Attachment, Document, Folder
from agora.extensions import db as _db
from agora.spaces.models import Space
from tests.conftest import post
from tests.test_agenda import event_form
from tests.test_documents import PDF, post_multipart, stored_files


def attached_names(db, kind) -> list[str]:
    return sorted(
        db.session.scalars(
            select(Document.name).join(Attachment, Attachment.document_id == Document.id).where(Attachment.kind == kind)
        )
    )


def test_a_forum_reply_carries_files_kept_in_the_documents(app, db, member_client):
    client, space, _user = member_client("member")
    created = post_multipart(
        client,
        f"/s/{space.slug}/forum/new",
        {"title": "Fête", "body": "Voici l'affiche", "category": "0"},
        [("attachments", "affiche.pdf", PDF)],
    )
    assert created.status_code == 302
    topic_url = created.location
    reply = post_multipart(
        client,
        topic_url + "reply",
        {"body": "Et le plan"},
        [("attachments", "plan.txt", b"rue des Tilleuls"), ("attachments", "liste.txt", b"chaises")],
    )
    assert reply.status_code == 302
    page = client.get(topic_url).get_data(as_text=True)
    for name in ("affiche.pdf", "plan.txt", "liste.txt"):
        assert name in page
    assert attached_names(db, "forum.post") == ["affiche.pdf", "liste.txt", "plan.txt"]
    folder = db.session.scalar(select(Folder).where(Folder.space_id == space.id))
    assert folder.name == "Pièces jointes"
    plan = db.session.scalar(select(Document).where(Document.name == "plan.txt"))
    assert plan.folder_id == folder.id
    assert client.get(f"/s/{space.slug}/documents/{plan.id}/download").data == b"rue des Tilleuls"
    assert db.session.get(Space, space.id).storage_used == len(PDF) + len(b"rue des Tilleuls") + len(b"chaises")


def test_an_attachment_over_the_quota_keeps_the_reply_out(app, db, member_client, make_space):
    space = make_space(quota_mb=1)
    client, _s, _user = member_client("member", space=space)
    with app.app_context():
        _db.session.get(Space, space.id).storage_used = 1024 * 1024 - 100
        _db.session.commit()
    response = post_multipart(
        client,
        f"/s/{space.slug}/forum/new",
        {"title": "Photos", "body": "Les photos", "category": "0"},
        [("attachments", "photo.bin", b"p" * 5000)],
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 413 and "Plus assez de place" in text
    assert 'id="attachments-error"' in text
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    from agora.forum.models import Topic

    assert db.session.scalar(select(func.count()).select_from(Topic)) == 0
    assert stored_files(app, space.id) == []


def test_tasks_and_events_carry_attachments(app, db, member_client):
    client, space, _user = member_client("admin")
    assert post(client, f"/s/{space.slug}/tasks/lists/", {"name": "Fête"}).status_code == 302
    from agora.tasks.models import TaskList

    list_id = db.session.scalar(select(TaskList.id))
    task = post_multipart(
        client,
        f"/s/{space.slug}/tasks/new",
        {"title": "Sono", "task_list": str(list_id), "status": "0", "priority": "normal", "progress": "0"},
        [("attachments", "devis.pdf", PDF)],
    )
    assert task.status_code == 302
    assert "devis.pdf" in client.get(task.location).get_data(as_text=True)
    event = post_multipart(
        client, f"/s/{space.slug}/agenda/new", event_form(), [("attachments", "ordre du jour.txt", b"1. accueil")]
    )
    assert event.status_code == 302
    page = client.get(event.location).get_data(as_text=True)
    assert "ordre du jour.txt" in page
    event_id = int(re.search(r"/agenda/(\d+)/", event.location).group(1))
    edited = post_multipart(
        client, f"/s/{space.slug}/agenda/{event_id}/edit", event_form(), [("attachments", "plan d'accès.pdf", PDF)]
    )
    assert edited.status_code == 302
    assert attached_names(db, "agenda.event") == ["ordre du jour.txt", "plan d'accès.pdf"]
    assert attached_names(db, "tasks.task") == ["devis.pdf"]


def test_without_the_documents_module_there_is_no_attachment(app, db, member_client):
    client, space, _user = member_client("member")
    with app.app_context():
        stored = _db.session.get(Space, space.id)
        stored.modules = [m for m in stored.modules if m != "documents"]
        _db.session.commit()
    assert "Joindre des fichiers" not in client.get(f"/s/{space.slug}/forum/new").get_data(as_text=True)
    response = post_multipart(
        client,
        f"/s/{space.slug}/forum/new",
        {"title": "Sans", "body": "Texte", "category": "0"},
        [("attachments", "x.txt", b"x")],
    )
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_a_trashed_attachment_disappears_from_its_message(app, db, member_client):
    client, space, _user = member_client("member")
    created = post_multipart(
        client,
        f"/s/{space.slug}/forum/new",
        {"title": "CR", "body": "Le compte rendu", "category": "0"},
        [("attachments", "cr.pdf", PDF)],
    )
    doc = db.session.scalar(select(Document).where(Document.name == "cr.pdf"))
    deleted = post(client, f"/s/{space.slug}/documents/{doc.id}/delete")
    assert "cr.pdf" in client.get(deleted.location).get_data(as_text=True)  # the flash says where it went
    assert "cr.pdf" not in client.get(created.location).get_data(as_text=True)


def test_a_poll_image_with_too_many_pixels_is_refused_and_nothing_is_written(app, db, member_client, monkeypatch):
    from agora.polls.models import Poll
    from tests.test_documents import huge_png, no_decoding
    from tests.test_polls import choice_form

    client, space, _user = member_client("member")
    no_decoding(monkeypatch)
    response = post_multipart(
        client,
        f"/s/{space.slug}/polls/new",
        choice_form(options=("Banc en bois", "Banc en pierre")),
        [("options-0-image", "bois.png", huge_png(9000, 9000))],
    )
    assert response.status_code == 413
    assert "Cette image est trop grande : 16 millions de pixels au plus." in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Poll)) == 0
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_files(app, space.id) == []
