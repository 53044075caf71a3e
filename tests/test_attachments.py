"""Attachments: the forum, the agenda and tasks keep their files in the space's documents."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
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


# Voice messages and photos in forum replies ------------------------------------------------


def ebml(element_id: bytes, payload: bytes) -> bytes:
    """One Matroska element: id, size (one byte), payload."""
    return element_id + bytes([0x80 | len(payload)]) + payload


def webm(*codecs: bytes) -> bytes:
    """The start of a WebM file (EBML header, then the tracks) whose tracks have these codec ids."""
    tracks = b"".join(
        ebml(b"\xae", ebml(b"\xd7", bytes([n + 1])) + ebml(b"\x86", codec)) for n, codec in enumerate(codecs)
    )
    return ebml(b"\x1a\x45\xdf\xa3", ebml(b"\x42\x82", b"webm")) + ebml(
        b"\x18\x53\x80\x67", ebml(b"\x16\x54\xae\x6b", tracks)
    )


def box(kind: bytes, payload: bytes) -> bytes:
    return (8 + len(payload)).to_bytes(4, "big") + kind + payload


def mp4(*handlers: bytes) -> bytes:
    """The start of an MP4 file, as Safari records it (movie header first), with these track handlers."""
    traks = b"".join(box(b"trak", box(b"mdia", box(b"hdlr", bytes(8) + handler + bytes(13)))) for handler in handlers)
    return box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2mp41") + box(b"moov", traks)


#: What Chromium's MediaRecorder sends: WebM with one Opus track.
VOICE = webm(b"A_OPUS")


def test_a_recording_is_told_from_a_video_by_its_tracks(tmp_path):
    from agora.documents.storage import sniff

    cases = {
        "voice.webm": (VOICE, "audio/webm"),
        "film.webm": (webm(b"V_VP8", b"A_OPUS"), "video/webm"),
        "voice.m4a": (mp4(b"soun"), "audio/mp4"),
        "film.mp4": (mp4(b"vide", b"soun"), "video/mp4"),
        # What Firefox records: Ogg Opus (a page header, one segment, the Opus header).
        "voice.ogg": (
            b"OggS\x00\x02" + bytes(20) + b"\x01\x13OpusHead\x01\x01\x38\x01\x80\xbb" + bytes(7),
            "audio/ogg",
        ),
    }
    for name, (content, expected) in cases.items():
        (tmp_path / name).write_bytes(content)
        assert sniff(tmp_path / name) == expected, name


@pytest.fixture
def topic_url(member_client):
    client, space, user = member_client("member")
    created = post_multipart(
        client, f"/s/{space.slug}/forum/new", {"title": "Fête", "body": "Qui vient ?", "category": "0"}, []
    )
    assert created.status_code == 302
    return client, space, user, created.location


def test_a_voice_reply_without_text_is_a_document_of_the_space_played_on_the_topic(db, topic_url, app):
    from agora.forum.models import Post

    client, space, user, url = topic_url
    response = post_multipart(client, url + "reply", {"body": ""}, [("voice", "message-vocal.webm", VOICE)])
    assert response.status_code == 302
    document = db.session.scalar(select(Document).where(Document.space_id == space.id))
    assert (document.name, document.content_type, document.created_by_id) == (
        "message-vocal.webm",
        "audio/webm",
        user.id,
    )
    reply = db.session.scalar(select(Post).where(Post.is_first.is_(False)))
    assert reply.body == ""
    assert attached_names(db, "forum.post") == ["message-vocal.webm"]
    assert db.session.get(Space, space.id).storage_used == len(VOICE)
    page = client.get(url).get_data(as_text=True)
    player = f'<audio controls preload="metadata" src="/s/{space.slug}/documents/{document.id}/view">'
    assert player in page and "Message vocal" in page
    played = client.get(f"/s/{space.slug}/documents/{document.id}/view", headers={"Range": "bytes=0-9"})
    assert (played.status_code, played.mimetype, played.data) == (206, "audio/webm", VOICE[:10])
    assert played.headers["Content-Disposition"].startswith("inline")
    document_page = client.get(f"/s/{space.slug}/documents/{document.id}").get_data(as_text=True)
    assert (
        f'<audio class="document-audio" controls preload="metadata" src="/s/{space.slug}/documents/{document.id}/view">'
        in document_page
    )


def test_a_spoken_reply_may_lose_its_text_a_written_one_may_not(db, topic_url):
    from agora.forum.models import Post

    client, space, _user, url = topic_url
    assert (
        post_multipart(client, url + "reply", {"body": "Je viens"}, [("voice", "vocal.webm", VOICE)]).status_code == 302
    )
    assert post_multipart(client, url + "reply", {"body": "Moi aussi"}, []).status_code == 302
    spoken, written = db.session.scalars(select(Post).where(Post.is_first.is_(False)).order_by(Post.id)).all()
    assert post_multipart(client, f"/s/{space.slug}/forum/posts/{spoken.id}/edit", {"body": ""}, []).status_code == 302
    refused = post_multipart(client, f"/s/{space.slug}/forum/posts/{written.id}/edit", {"body": ""}, [])
    assert refused.status_code == 400 and "Le message est vide" in refused.get_data(as_text=True)
    db.session.expire_all()
    assert (db.session.get(Post, spoken.id).body, db.session.get(Post, written.id).body) == ("", "Moi aussi")


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "écrivez quelque chose ou enregistrez un message vocal"),
        ([("attachments", "plan.txt", b"rue des Tilleuls")], "écrivez quelque chose ou enregistrez un message vocal"),
        ([("voice", "affiche.pdf", PDF)], "« affiche.pdf » n'est pas un enregistrement sonore"),
        ([("voice", "film.webm", webm(b"V_VP8", b"A_OPUS"))], "« film.webm » n'est pas un enregistrement sonore"),
    ],
)
def test_a_reply_without_text_needs_a_voice_message_and_nothing_is_kept(db, topic_url, app, files, message):
    from agora.forum.models import Post

    client, space, _user, url = topic_url
    response = post_multipart(client, url + "reply", {"body": "  "}, files)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(func.count()).select_from(Post)) == 1
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert db.session.get(Space, space.id).storage_used == 0
    assert stored_files(app, space.id) == []


#: Where a message is sent, from its page's address: a reply in a topic, a comment on a task.
SEND_TO = {"topic_url": "reply", "task_url": "/comments"}


@pytest.mark.parametrize("page", sorted(SEND_TO))
def test_a_stranger_gets_404_for_a_voice_message(db, request, page, member_client, app):
    client, space, _user, url = request.getfixturevalue(page)
    sent = post_multipart(client, url + SEND_TO[page], {"body": ""}, [("voice", "vocal.webm", VOICE)])
    assert sent.status_code == 302
    document_id = db.session.scalar(select(Document.id).where(Document.space_id == space.id))
    stranger, _other_space, _stranger = member_client("member")
    assert stranger.get(url).status_code == 404
    for path in ("view", "download"):
        assert stranger.get(f"/s/{space.slug}/documents/{document_id}/{path}").status_code == 404
        logged_out = app.test_client().get(f"/s/{space.slug}/documents/{document_id}/{path}")
        assert logged_out.status_code == 302 and "/login" in logged_out.location and VOICE not in logged_out.data


def test_photos_of_a_reply_show_as_thumbnails_and_only_pictures_are_taken(db, topic_url):
    from tests.test_documents import jpeg

    client, space, _user, url = topic_url
    refused = post_multipart(client, url + "reply", {"body": "Le chantier"}, [("photos", "plan.txt", b"rue")])
    assert refused.status_code == 400 and "« plan.txt » n'est pas une photo" in refused.get_data(as_text=True).replace(
        "&#39;", "'"
    )
    sent = post_multipart(client, url + "reply", {"body": "Le chantier"}, [("photos", "chantier.jpg", jpeg(1200, 800))])
    assert sent.status_code == 302
    photo_id = db.session.scalar(select(Document.id).where(Document.name == "chantier.jpg"))
    page = client.get(url).get_data(as_text=True)
    assert f'<img src="/s/{space.slug}/documents/{photo_id}/thumbnail" alt="Photo : chantier.jpg"' in page
    thumbnail = client.get(f"/s/{space.slug}/documents/{photo_id}/thumbnail")
    assert thumbnail.mimetype == "image/jpeg" and max(Image.open(io.BytesIO(thumbnail.data)).size) == 320


def test_the_reply_form_records_or_takes_a_file_from_the_phone(topic_url):
    client, space, _user, url = topic_url
    response = client.get(url)
    page = response.get_data(as_text=True)
    # The recorder may use the microphone on this page only; every other page keeps it off.
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    assert "microphone=()" in client.get(f"/s/{space.slug}/forum/").headers["Permissions-Policy"]
    inputs = {re.search(r'id="(\w+)"', tag).group(1): tag for tag in re.findall(r'<input[^>]*type="file"[^>]*>', page)}
    assert 'accept="audio/*"' in inputs["voice"] and " capture " in inputs["voice"]
    assert 'accept="image/*"' in inputs["photos"] and 'capture="environment"' in inputs["photos"]
    assert "Parler" in page and 'aria-live="polite"' in page


# Voice messages and photos in task comments ------------------------------------------------


@pytest.fixture
def task_url(member_client, db):
    """(client, space, user, the task page's address) for an admin who made a task."""
    from agora.tasks.models import TaskList

    client, space, user = member_client("admin")
    assert post(client, f"/s/{space.slug}/tasks/lists/", {"name": "Fête"}).status_code == 302
    list_id = db.session.scalar(select(TaskList.id).where(TaskList.space_id == space.id))
    created = post(
        client,
        f"/s/{space.slug}/tasks/new",
        {"title": "Sono", "task_list": str(list_id), "status": "0", "priority": "normal", "progress": "0"},
    )
    assert created.status_code == 302
    return client, space, user, created.location


def test_a_voice_comment_without_text_is_a_document_of_the_space_played_on_the_task(db, task_url):
    from agora.tasks.models import TaskComment
    from tests.test_documents import jpeg

    client, space, user, url = task_url
    response = post_multipart(
        client,
        url + "/comments",
        {"body": ""},
        [("voice", "message-vocal.webm", VOICE), ("photos", "sono.jpg", jpeg(1200, 800))],
    )
    assert response.status_code == 302
    comment = db.session.scalar(select(TaskComment))
    assert comment.body == "" and response.location.endswith(f"#comment-{comment.id}")
    voice = db.session.scalar(select(Document).where(Document.space_id == space.id, Document.name.endswith(".webm")))
    assert (voice.name, voice.content_type, voice.created_by_id) == ("message-vocal.webm", "audio/webm", user.id)
    assert attached_names(db, "tasks.comment") == ["message-vocal.webm", "sono.jpg"]
    photo_id = db.session.scalar(select(Document.id).where(Document.name == "sono.jpg"))
    page = client.get(url).get_data(as_text=True)
    comment_html = page[page.index(f'id="comment-{comment.id}"') :]
    assert f'<audio controls preload="metadata" src="/s/{space.slug}/documents/{voice.id}/view">' in comment_html
    assert f'<img src="/s/{space.slug}/documents/{photo_id}/thumbnail" alt="Photo : sono.jpg"' in comment_html
    played = client.get(f"/s/{space.slug}/documents/{voice.id}/view", headers={"Range": "bytes=0-9"})
    assert (played.status_code, played.mimetype, played.data) == (206, "audio/webm", VOICE[:10])


@pytest.mark.parametrize(
    "files, message",
    [
        ([], "Le commentaire est vide : écrivez quelque chose ou enregistrez un message vocal."),
        (
            [("photos", "sono.jpg", None)],
            "Le commentaire est vide : écrivez quelque chose ou enregistrez un message vocal.",
        ),
        ([("voice", "affiche.pdf", PDF)], "« affiche.pdf » n'est pas un enregistrement sonore"),
    ],
)
def test_a_comment_without_text_needs_a_voice_message_and_nothing_is_kept(db, task_url, app, files, message):
    from agora.tasks.models import TaskComment
    from tests.test_documents import jpeg

    client, space, _user, url = task_url
    files = [(name, filename, content or jpeg(40, 30)) for name, filename, content in files]
    response = post_multipart(client, url + "/comments", {"body": "  "}, files)
    assert response.status_code == 400
    page = response.get_data(as_text=True).replace("&#39;", "'")
    assert message in page and "<h1>Sono</h1>" in page  # the task page again, the refusal beside its form
    assert db.session.scalar(select(func.count()).select_from(TaskComment)) == 0
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert db.session.get(Space, space.id).storage_used == 0
    assert stored_files(app, space.id) == []


def test_the_task_page_allows_the_microphone_only_to_who_may_comment(db, task_url, app, make_user, make_member):
    from tests.conftest import login

    client, space, _user, url = task_url
    response = client.get(url)
    page = response.get_data(as_text=True)
    assert "microphone=(self)" in response.headers["Permissions-Policy"]
    inputs = {re.search(r'id="(\w+)"', tag).group(1): tag for tag in re.findall(r'<input[^>]*type="file"[^>]*>', page)}
    assert 'accept="audio/*"' in inputs["voice"] and " capture " in inputs["voice"]
    assert 'accept="image/*"' in inputs["photos"] and 'capture="environment"' in inputs["photos"]
    assert 'enctype="multipart/form-data"' in page and "Parler" in page
    reader = make_user("lecteur.v", display_name="Lecteur")
    make_member(space, reader, "reader")
    reading = app.test_client()
    login(reading, reader.username)
    response = reading.get(url)
    assert response.status_code == 200 and "<h1>Sono</h1>" in response.get_data(as_text=True)
    assert "microphone=()" in response.headers["Permissions-Policy"]
    assert 'id="voice"' not in response.get_data(as_text=True)
    with app.app_context():  # without the documents module there is no recorder, and no microphone
        stored = _db.session.get(Space, space.id)
        stored.modules = [m for m in stored.modules if m != "documents"]
        _db.session.commit()
    response = client.get(url)
    assert "microphone=()" in response.headers["Permissions-Policy"] and 'id="voice"' not in response.get_data(
        as_text=True
    )


def test_deleting_a_task_forgets_its_comments_files_which_stay_in_the_documents(db, task_url):
    from agora.tasks.models import TaskComment

    client, space, _user, url = task_url
    assert (
        post_multipart(client, url + "/comments", {"body": "Écoutez"}, [("voice", "vocal.webm", VOICE)]).status_code
        == 302
    )
    assert post(client, url + "/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(TaskComment)) == 0
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    kept = db.session.scalar(select(Document).where(Document.space_id == space.id))
    assert (kept.name, kept.deleted_at) == ("vocal.webm", None)  # where its author can find or delete it
