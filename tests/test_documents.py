"""Documents: folders, uploads and versions, roles, trash, quota, downloads, ZIP, previews, safety."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
import struct
import time
import zipfile
import zlib
from datetime import timedelta

import pytest
from PIL import Image
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from agora.core.time import utcnow
from agora.documents import services, storage
from agora.documents.models import Document, DocumentVersion, Folder
from agora.extensions import db as _db
from agora.spaces.models import Space
from tests.conftest import csrf_token, login, post
from tests.test_queries import count_queries

PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def post_multipart(client, url, data: dict, files: list[tuple[str, str, bytes]], **kwargs):
    """POST a form with files (field, file name, bytes), with a valid CSRF token.

    Encoded here, in memory: the test client would spool a large body to a file it never closes.
    """
    fields = MultiDict(
        [("csrf_token", csrf_token(client)), *data.items()]
        + [(field, FileStorage(io.BytesIO(content), filename=name)) for field, name, content in files]
    )
    boundary, body = encode_multipart(fields)
    return client.post(
        url, input_stream=io.BytesIO(body), content_type=f'multipart/form-data; boundary="{boundary}"', **kwargs
    )


def upload(client, slug, files, folder_id=None, on_conflict="version", note="", **kwargs):
    """POST the upload form; files is a list of (name, bytes)."""
    url = f"/s/{slug}/documents/folders/{folder_id}/upload" if folder_id else f"/s/{slug}/documents/upload"
    return post_multipart(
        client,
        url,
        {"on_conflict": on_conflict, "note": note},
        [("files", name, content) for name, content in files],
        **kwargs,
    )


def documents_dir(app, space_id):
    with app.app_context():
        return storage.documents_dir(space_id)


def stored_files(app, space_id) -> list:
    folder = documents_dir(app, space_id)
    return sorted(p for p in folder.glob("*/*")) if folder.exists() else []


def tmp_files(app):
    with app.app_context():
        return list(storage.tmp_dir().iterdir())


def doc_named(db, space_id, name) -> Document:
    return db.session.scalar(select(Document).where(Document.space_id == space_id, Document.name == name))


def make_folder(client, slug, name, parent_id=None):
    url = f"/s/{slug}/documents/folders/{parent_id}/new-folder" if parent_id else f"/s/{slug}/documents/new-folder"
    response = post(client, url, {"new-name": name})
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(response.location.rstrip("/").split("/")[-1])


def huge_png(width: int, height: int) -> bytes:
    """A PNG whose header says width × height pixels, a few dozen bytes on disk (its pixels never fit)."""
    out = io.BytesIO()
    Image.new("L", (8, 8)).save(out, "PNG")
    data = bytearray(out.getvalue())
    struct.pack_into(">II", data, 16, width, height)  # IHDR's data follows the signature, length and type
    struct.pack_into(">I", data, 29, zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def no_decoding(monkeypatch):
    """Make any decoding of an image file's pixels fail the test."""
    from PIL import ImageFile

    def refuse(self):
        raise AssertionError(f"pixels of a {self.size} image decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", refuse)


def jpeg(width, height, orientation=None, colour=(200, 30, 30)) -> bytes:
    image = Image.new("RGB", (width, height), colour)
    out = io.BytesIO()
    if orientation:
        exif = Image.Exif()
        exif[0x0112] = orientation
        image.save(out, "JPEG", exif=exif)
    else:
        image.save(out, "JPEG")
    return out.getvalue()


# Upload, listing, storage ----------------------------------------------------------------------


def test_member_uploads_several_files_stored_under_generated_names(app, db, member_client):
    client, space, user = member_client("member")
    response = upload(client, space.slug, [("Compte rendu.pdf", PDF), ("notes.txt", b"Ordre du jour\n")])
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    assert "Compte rendu.pdf" in page and "notes.txt" in page and "2 fichiers ajoutés" in page
    report = doc_named(db, space.id, "Compte rendu.pdf")
    version = db.session.get(DocumentVersion, report.current_version_id)
    assert (report.content_type, report.size, report.created_by_id) == ("application/pdf", len(PDF), user.id)
    assert version.sha256 == hashlib.sha256(PDF).hexdigest()
    files = stored_files(app, space.id)
    assert len(files) == 2 and all("Compte" not in p.name and "notes" not in p.name for p in files)
    assert storage.path_for(space.id, version.storage_name).read_bytes() == PDF
    assert db.session.get(Space, space.id).storage_used == len(PDF) + len(b"Ordre du jour\n")
    assert tmp_files(app) == []
    home = client.get(f"/s/{space.slug}/").get_data(as_text=True)
    assert "Nouveau document :" in home and f'/s/{space.slug}/documents/{report.id}">Compte rendu.pdf' in home


def test_same_name_becomes_a_new_version_or_is_kept_beside_it(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("Budget.txt", b"version un")])
    upload(client, space.slug, [("budget.TXT", b"version deux")], note="chiffres de mars")
    budget = doc_named(db, space.id, "Budget.txt")
    versions = db.session.scalars(
        select(DocumentVersion).where(DocumentVersion.document_id == budget.id).order_by(DocumentVersion.number)
    ).all()
    assert [v.number for v in versions] == [1, 2] and versions[1].note == "chiffres de mars"
    assert client.get(f"/s/{space.slug}/documents/{budget.id}/download").data == b"version deux"
    old = client.get(f"/s/{space.slug}/documents/{budget.id}/versions/{versions[0].id}/download")
    assert old.data == b"version un"
    upload(client, space.slug, [("Budget.txt", b"a part")], on_conflict="rename")
    assert doc_named(db, space.id, "Budget (2).txt") is not None
    assert db.session.scalar(select(func.count()).select_from(Document).where(Document.space_id == space.id)) == 2


def test_an_old_version_is_restored_as_the_current_one(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("Plan.txt", b"ancien plan")])
    upload(client, space.slug, [("Plan.txt", b"nouveau plan, plus long")])
    plan = doc_named(db, space.id, "Plan.txt")
    first = db.session.scalar(
        select(DocumentVersion).where(DocumentVersion.document_id == plan.id, DocumentVersion.number == 1)
    )
    page = client.get(f"/s/{space.slug}/documents/{plan.id}").get_data(as_text=True)
    assert "En faire la version actuelle" in page
    response = post(client, f"/s/{space.slug}/documents/{plan.id}/versions/{first.id}/restore")
    assert response.status_code == 302
    assert client.get(f"/s/{space.slug}/documents/{plan.id}/download").data == b"ancien plan"
    db.session.expire_all()
    assert doc_named(db, space.id, "Plan.txt").size == len(b"ancien plan")
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 2


def test_new_version_from_the_document_page_whatever_its_file_name(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("Charte.txt", b"v1")])
    charte = doc_named(db, space.id, "Charte.txt")
    response = post(
        client,
        f"/s/{space.slug}/documents/{charte.id}/versions",
        {"file": (io.BytesIO(b"v2 relue"), "charte-relue-final.txt"), "note": "relue"},
        content_type="multipart/form-data",
    )
    assert response.status_code == 302
    assert client.get(f"/s/{space.slug}/documents/{charte.id}/download").data == b"v2 relue"
    page = client.get(f"/s/{space.slug}/documents/{charte.id}").get_data(as_text=True)
    assert "relue" in page and "actuelle" in page


# Roles -----------------------------------------------------------------------------------------


def test_role_matrix(app, db, member_client, make_user, make_member):
    owner, space, _owner_user = member_client("member")
    upload(owner, space.slug, [("Affiche.pdf", PDF)])
    folder_id = make_folder(owner, space.slug, "Photos")
    affiche = doc_named(db, space.id, "Affiche.pdf")
    base = f"/s/{space.slug}/documents"

    reader, _s, _r = member_client("reader", space=space)
    assert reader.get(f"{base}/").status_code == 200
    assert "Affiche.pdf" in reader.get(f"{base}/").get_data(as_text=True)
    assert reader.get(f"{base}/{affiche.id}/download").data == PDF
    assert upload(reader, space.slug, [("x.txt", b"x")]).status_code == 403
    assert post(reader, f"{base}/new-folder", {"new-name": "Lecteur"}).status_code == 403
    assert post(reader, f"{base}/{affiche.id}/rename", {"name": "pirate.pdf"}).status_code == 403
    assert post(reader, f"{base}/{affiche.id}/delete").status_code == 403
    assert reader.get(f"{base}/trash").status_code == 403

    other, _s, _o = member_client("member", space=space)
    assert upload(other, space.slug, [("Autre.txt", b"x")]).status_code == 302
    assert post(other, f"{base}/{affiche.id}/rename", {"name": "pirate.pdf"}).status_code == 403
    assert post(other, f"{base}/{affiche.id}/delete").status_code == 403
    assert post(other, f"{base}/folders/{folder_id}/delete").status_code == 403

    admin, _s, _a = member_client("admin", space=space)
    assert post(admin, f"{base}/{affiche.id}/rename", {"name": "Affiche fête.pdf"}).status_code == 302
    assert post(owner, f"{base}/{affiche.id}/delete").status_code == 302
    db.session.expire_all()
    assert doc_named(db, space.id, "Affiche fête.pdf").deleted_at is not None
    assert doc_named(db, space.id, "pirate.pdf") is None


# Folders ---------------------------------------------------------------------------------------


def test_folders_nest_with_breadcrumb_rename_and_move(app, db, member_client):
    client, space, _user = member_client("member")
    base = f"/s/{space.slug}/documents"
    council = make_folder(client, space.slug, "Conseil citoyen")
    minutes = make_folder(client, space.slug, "Comptes rendus", parent_id=council)
    upload(client, space.slug, [("Séance 1.txt", b"1")], folder_id=minutes)
    page = client.get(f"{base}/folders/{minutes}").get_data(as_text=True)
    assert "Séance 1.txt" in page and 'aria-label="Fil d’Ariane"' in page and "Conseil citoyen" in page
    assert "Séance 1.txt" not in client.get(f"{base}/").get_data(as_text=True)

    refused = post(client, f"{base}/folders/{council}/move", {"target": str(minutes)})
    assert refused.status_code == 409 and "sous-dossiers" in refused.get_data(as_text=True)
    assert post(client, f"{base}/folders/{council}/move", {"target": str(council)}).status_code == 409
    assert db.session.get(Folder, council).parent_id is None

    assert post(client, f"{base}/folders/{minutes}/move", {"target": "0"}).status_code == 302
    assert post(client, f"{base}/folders/{minutes}/rename", {"name": "CR 2026"}).status_code == 302
    db.session.expire_all()
    moved = db.session.get(Folder, minutes)
    assert (moved.parent_id, moved.name) == (None, "CR 2026")
    make_folder(client, space.slug, "Photos")
    clash = post(client, f"{base}/folders/{minutes}/rename", {"name": "photos"})
    assert clash.status_code == 409 and "déjà ce nom" in clash.get_data(as_text=True)


def test_folder_listing_sorts_by_name_date_and_size(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("b-moyen.txt", b"x" * 50), ("a-gros.txt", b"x" * 500), ("c-petit.txt", b"x")])
    base = f"/s/{space.slug}/documents/"

    def order(sort):
        page = client.get(base, query_string={"sort": sort}).get_data(as_text=True)
        return sorted(["a-gros.txt", "b-moyen.txt", "c-petit.txt"], key=page.index)

    assert order("name") == ["a-gros.txt", "b-moyen.txt", "c-petit.txt"]
    assert order("size") == ["a-gros.txt", "b-moyen.txt", "c-petit.txt"][::1] and order("size")[0] == "a-gros.txt"
    assert order("size")[-1] == "c-petit.txt"
    with app.app_context():
        _db.session.execute(
            Document.__table__.update()
            .where(Document.name == "c-petit.txt")
            .values(updated_at=utcnow() + timedelta(hours=1))
        )
        _db.session.commit()
    assert order("date")[0] == "c-petit.txt"


def test_a_long_folder_shows_its_files_page_by_page_in_the_chosen_order(app, db, member_client, monkeypatch):
    from agora.documents import views

    monkeypatch.setattr(views, "PER_PAGE", 2)
    client, space, _user = member_client("member")
    names = ["Écoles.txt", "budget.txt", "Affiches.txt", "dossier-CAF.txt", "Zéro-déchet.txt"]
    upload(client, space.slug, [(name, b"x" * (n + 1)) for n, name in enumerate(names)])
    make_folder(client, space.slug, "Archives")
    base = f"/s/{space.slug}/documents/"

    def shown(**args):
        page = client.get(base, query_string=args).get_data(as_text=True)
        return sorted(
            (name for name in names if f">{name}</a>" in page), key=lambda name: page.index(f">{name}</a>")
        ), page

    first, page = shown()
    assert first == ["Affiches.txt", "budget.txt"] and ">Archives</a>" in page
    assert 'rel="next"' in page and 'rel="prev"' not in page and "Pages des fichiers" in page
    assert shown(page=2)[0] == ["dossier-CAF.txt", "Écoles.txt"]  # Écoles sorts with the E, not after Z
    last, page = shown(page=3)
    assert last == ["Zéro-déchet.txt"] and 'rel="next"' not in page and ">Archives</a>" in page
    by_size, page = shown(sort="size")
    assert by_size == ["Zéro-déchet.txt", "dossier-CAF.txt"]
    assert f'href="{base}?sort=size&amp;page=2" rel="next"' in page
    assert shown(page="abc")[0] == first


def test_folder_page_runs_the_same_number_of_queries_for_3_or_40_files(app, db, member_client):
    client, space, _user = member_client("member")
    folder = make_folder(client, space.slug, "Beaucoup")
    url = f"/s/{space.slug}/documents/folders/{folder}"

    def count():
        client.get(url)  # warm caches (session, login)
        with count_queries(_db.engine) as statements:
            assert client.get(url).status_code == 200
        return len(statements)

    upload(client, space.slug, [(f"f{n}.txt", b"x") for n in range(3)], folder_id=folder)
    make_folder(client, space.slug, "Sous-dossier", parent_id=folder)
    few = count()
    upload(client, space.slug, [(f"g{n}.txt", b"y") for n in range(37)], folder_id=folder)
    for n in range(5):
        make_folder(client, space.slug, f"Sous-dossier {n}", parent_id=folder)
    assert count() == few <= 11  # the bell, "do I follow this folder" and the order of its files: one query each


# Trash -----------------------------------------------------------------------------------------


def test_trash_keeps_files_thirty_days_and_restores_them(app, db, member_client, monkeypatch):
    client, space, _user = member_client("member")
    base = f"/s/{space.slug}/documents"
    folder = make_folder(client, space.slug, "Archives")
    upload(client, space.slug, [("vieux.txt", b"vieux")], folder_id=folder)
    upload(client, space.slug, [("seul.txt", b"seul")])
    vieux, seul = doc_named(db, space.id, "vieux.txt"), doc_named(db, space.id, "seul.txt")

    assert post(client, f"{base}/folders/{folder}/delete").status_code == 302
    assert post(client, f"{base}/{seul.id}/delete").status_code == 302
    assert client.get(f"{base}/{vieux.id}/download").status_code == 404
    assert client.get(f"{base}/{seul.id}").status_code == 404
    assert "seul.txt" not in client.get(f"{base}/").get_data(as_text=True)
    trash = client.get(f"{base}/trash").get_data(as_text=True)
    assert "Archives" in trash and "seul.txt" in trash and "vieux.txt" not in trash  # it lies inside Archives
    assert db.session.get(Space, space.id).storage_used == len(b"vieux") + len(b"seul")  # the trash counts

    assert post(client, f"{base}/trash/folders/{folder}/restore").status_code == 302
    assert client.get(f"{base}/{vieux.id}/download").data == b"vieux"

    # 31 days later: no longer shown nor restorable, and the next upload removes it for good.
    later = utcnow() + timedelta(days=31)
    monkeypatch.setattr(services, "utcnow", lambda: later)
    assert "seul.txt" not in client.get(f"{base}/trash").get_data(as_text=True)
    assert post(client, f"{base}/trash/{seul.id}/restore").status_code == 404
    path = storage.path_for(space.id, db.session.get(DocumentVersion, seul.current_version_id).storage_name)
    assert path.exists()
    assert upload(client, space.slug, [("nouveau.txt", b"n")]).status_code == 302
    db.session.expire_all()
    assert doc_named(db, space.id, "seul.txt") is None
    assert not path.exists()
    assert db.session.get(Space, space.id).storage_used == len(b"vieux") + len(b"n")


def test_restored_item_gets_a_free_name_and_a_live_place(app, db, member_client):
    client, space, _user = member_client("member")
    base = f"/s/{space.slug}/documents"
    upload(client, space.slug, [("Liste.txt", b"1")])
    first = doc_named(db, space.id, "Liste.txt")
    post(client, f"{base}/{first.id}/delete")
    upload(client, space.slug, [("Liste.txt", b"2")])
    assert post(client, f"{base}/trash/{first.id}/restore").status_code == 302
    db.session.expire_all()
    assert db.session.get(Document, first.id).name == "Liste (2).txt"


def test_owner_or_admin_restores_and_admin_empties_the_trash_freeing_quota(app, db, member_client):
    owner, space, _user = member_client("member")
    base = f"/s/{space.slug}/documents"
    upload(owner, space.slug, [("a.txt", b"a" * 100), ("b.txt", b"b" * 50)])
    a, b = doc_named(db, space.id, "a.txt"), doc_named(db, space.id, "b.txt")
    post(owner, f"{base}/{a.id}/delete")
    post(owner, f"{base}/{b.id}/delete")
    other, _s, _o = member_client("member", space=space)
    assert post(other, f"{base}/trash/{a.id}/restore").status_code == 403
    assert post(other, f"{base}/trash/empty").status_code == 403
    assert post(owner, f"{base}/trash/{b.id}/purge").status_code == 302
    assert db.session.get(Space, space.id).storage_used == 100
    admin, _s, _a = member_client("admin", space=space)
    assert post(admin, f"{base}/trash/empty").status_code == 302
    db.session.expire_all()
    assert db.session.get(Space, space.id).storage_used == 0
    assert stored_files(app, space.id) == []
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 0


# Quota -----------------------------------------------------------------------------------------


def test_quota_counts_versions_and_trash_and_refuses_before_storing(app, db, member_client, make_space):
    space = make_space(quota_mb=1)
    client, _s, _user = member_client("member", space=space)
    base = f"/s/{space.slug}/documents"
    part = b"x" * 400_000
    assert upload(client, space.slug, [("plan.bin", part)]).status_code == 302
    assert upload(client, space.slug, [("plan.bin", part + b"v2")]).status_code == 302  # a version counts
    refused = upload(client, space.slug, [("encore.bin", part)])
    text = refused.get_data(as_text=True)
    assert refused.status_code == 413 and "Plus assez de place" in text and "il ne reste que" in text
    assert doc_named(db, space.id, "encore.bin") is None
    assert len(stored_files(app, space.id)) == 2 and tmp_files(app) == []
    assert db.session.get(Space, space.id).storage_used == 2 * len(part) + 2

    plan = doc_named(db, space.id, "plan.bin")
    post(client, f"{base}/{plan.id}/delete")  # the trash still counts
    assert upload(client, space.slug, [("encore.bin", part)]).status_code == 413
    admin, _s, _a = member_client("admin", space=space)
    page = admin.get(f"{base}/").get_data(as_text=True)
    assert 'id="usage-bar"' in page and "sur 1\u00a0Mo" in page
    post(admin, f"{base}/trash/empty")
    assert upload(client, space.slug, [("encore.bin", part)]).status_code == 302


def test_one_refused_file_keeps_the_whole_upload_out(app, db, member_client, make_space):
    space = make_space(quota_mb=1)
    client, _s, _user = member_client("member", space=space)
    response = upload(client, space.slug, [("petit.txt", b"ok"), ("gros.bin", b"z" * 1_100_000)])
    assert response.status_code == 413
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_files(app, space.id) == [] and tmp_files(app) == []
    assert db.session.get(Space, space.id).storage_used == 0


def test_upload_over_the_size_limit_gets_a_clear_413(app, db, member_client, monkeypatch):
    client, space, _user = member_client("member")
    monkeypatch.setitem(app.config, "MAX_UPLOAD_MB", 1)
    response = upload(client, space.slug, [("video.mp4", b"v" * (1024 * 1024 + 10))])
    assert response.status_code == 413 and "taille autorisée de 1 Mo" in response.get_data(as_text=True)
    assert stored_files(app, space.id) == [] and tmp_files(app) == []
    monkeypatch.setitem(app.config, "MAX_CONTENT_LENGTH", 1024 * 1024)
    page = upload(client, space.slug, [("video.mp4", b"v" * (2 * 1024 * 1024))])
    assert page.status_code == 413 and "Fichier trop volumineux" in page.get_data(as_text=True)


# Downloads -------------------------------------------------------------------------------------


def test_download_answers_ranges_etags_and_utf8_names(app, db, member_client):
    client, space, _user = member_client("member")
    body = bytes(range(256)) * 40
    upload(client, space.slug, [("Réunion d'été.bin", body)])
    doc = doc_named(db, space.id, "Réunion d'été.bin")
    url = f"/s/{space.slug}/documents/{doc.id}/download"
    full = client.get(url)
    assert full.status_code == 200 and full.data == body
    assert full.headers["Accept-Ranges"] == "bytes"
    disposition = full.headers["Content-Disposition"]
    assert (
        disposition.startswith("attachment;") and "filename*=UTF-8''R%C3%A9union%20d%27%C3%A9t%C3%A9.bin" in disposition
    )
    assert 'filename="Reunion d\'ete.bin"' in disposition
    assert "sandbox" in full.headers["Content-Security-Policy"] and full.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in full.headers["Cache-Control"]
    part = client.get(url, headers={"Range": "bytes=100-199"})
    assert part.status_code == 206 and part.data == body[100:200]
    assert part.headers["Content-Range"] == f"bytes 100-199/{len(body)}"
    tail = client.get(url, headers={"Range": "bytes=-10"})
    assert tail.data == body[-10:]
    assert client.get(url, headers={"Range": f"bytes={len(body) + 5}-"}).status_code == 416
    etag = full.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    assert full.headers["Last-Modified"]


def test_zip_of_a_folder_and_of_a_selection(app, db, member_client):
    client, space, _user = member_client("member")
    base = f"/s/{space.slug}/documents"
    walk = make_folder(client, space.slug, "Marche exploratoire")
    photos = make_folder(client, space.slug, "Photos", parent_id=walk)
    gone = make_folder(client, space.slug, "Brouillons", parent_id=walk)
    upload(client, space.slug, [("parcours.txt", b"rue des Tilleuls")], folder_id=walk)
    upload(client, space.slug, [("banc.jpg", jpeg(20, 10))], folder_id=photos)
    upload(client, space.slug, [("secret.txt", b"brouillon")], folder_id=gone)
    post(client, f"{base}/folders/{gone}/delete")
    response = client.get(f"{base}/folders/{walk}/zip")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert int(response.headers["Content-Length"]) == len(response.data)
    archive = zipfile.ZipFile(io.BytesIO(response.data))
    assert sorted(archive.namelist()) == ["Photos/banc.jpg", "parcours.txt"]
    assert archive.read("parcours.txt") == b"rue des Tilleuls"
    assert "Marche%20exploratoire.zip" in response.headers["Content-Disposition"]

    parcours = doc_named(db, space.id, "parcours.txt")
    picked = client.get(f"{base}/zip", query_string={"doc": [parcours.id], "folder": [photos]})
    assert sorted(zipfile.ZipFile(io.BytesIO(picked.data)).namelist()) == ["Photos/banc.jpg", "parcours.txt"]
    assert client.get(f"{base}/zip", query_string={"doc": ["abc"]}).status_code == 400
    secret = doc_named(db, space.id, "secret.txt")
    assert client.get(f"{base}/zip", query_string={"doc": [secret.id]}).status_code == 404


def test_zip_refuses_items_of_another_space(app, db, member_client, make_space):
    client, space, _user = member_client("member")
    other_client, other, _o = member_client("member")
    upload(other_client, other.slug, [("privé.txt", b"secret de l'autre espace")])
    theirs = doc_named(db, other.id, "privé.txt")
    folder = make_folder(other_client, other.slug, "Privé")
    base = f"/s/{space.slug}/documents"
    assert client.get(f"{base}/zip", query_string={"doc": [theirs.id]}).status_code == 404
    assert client.get(f"{base}/zip", query_string={"folder": [folder]}).status_code == 404


# Previews --------------------------------------------------------------------------------------


def test_thumbnail_respects_exif_orientation_and_is_made_once(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("portrait.jpg", jpeg(800, 400, orientation=6))])
    photo = doc_named(db, space.id, "portrait.jpg")
    assert photo.content_type == "image/jpeg"
    response = client.get(f"/s/{space.slug}/documents/{photo.id}/thumbnail")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    thumb = Image.open(io.BytesIO(response.data))
    assert thumb.size == (160, 320)  # turned upright, then fitted in 320 px
    path = storage.thumbnail_path(space.id, db.session.get(DocumentVersion, photo.current_version_id).storage_name)
    made = path.stat().st_mtime_ns
    client.get(f"/s/{space.slug}/documents/{photo.id}/thumbnail")
    assert path.stat().st_mtime_ns == made
    page = client.get(f"/s/{space.slug}/documents/{photo.id}").get_data(as_text=True)
    assert f'src="/s/{space.slug}/documents/{photo.id}/view" alt="portrait.jpg"' in page
    shown = client.get(f"/s/{space.slug}/documents/{photo.id}/view")
    assert shown.headers["Content-Disposition"].startswith("inline;") and shown.mimetype == "image/jpeg"


def test_a_huge_image_is_kept_as_a_file_with_a_plain_tile_and_never_decoded(app, db, member_client, monkeypatch):
    client, space, _user = member_client("member")
    content = huge_png(8000, 6000)  # 48 million pixels (about 190 MB decoded), 70 bytes on disk
    assert len(content) < 100
    assert upload(client, space.slug, [("plan.png", content)]).status_code == 302
    plan = doc_named(db, space.id, "plan.png")
    assert plan.content_type == "image/png" and plan.size == len(content)
    assert client.get(f"/s/{space.slug}/documents/{plan.id}/download").data == content
    no_decoding(monkeypatch)
    response = client.get(f"/s/{space.slug}/documents/{plan.id}/thumbnail")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    monkeypatch.undo()
    with Image.open(io.BytesIO(response.data)) as tile:
        assert tile.size == (320, 320) and tile.getextrema() == ((228, 228), (228, 228), (228, 228))


def test_a_jpeg_thumbnail_is_decoded_at_reduced_scale(app, db, member_client, monkeypatch):
    from PIL import ImageFile

    client, space, _user = member_client("member")
    upload(client, space.slug, [("grand.jpg", jpeg(2600, 1300))])
    photo = doc_named(db, space.id, "grand.jpg")
    decoded, load = [], ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: decoded.append(self.size) or load(self))
    response = client.get(f"/s/{space.slug}/documents/{photo.id}/thumbnail")
    assert response.status_code == 200
    assert decoded and max(w * h for w, h in decoded) <= 2600 * 1300 // 4  # half scale or less


def test_image_viewer_goes_to_the_next_image_of_the_folder(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("1-place.jpg", jpeg(10, 10)), ("2-parc.jpg", jpeg(10, 10)), ("notes.txt", b"n")])
    first, second = doc_named(db, space.id, "1-place.jpg"), doc_named(db, space.id, "2-parc.jpg")
    page = client.get(f"/s/{space.slug}/documents/{first.id}").get_data(as_text=True)
    assert f'href="/s/{space.slug}/documents/{second.id}" rel="next"' in page and 'rel="prev"' not in page
    upload(client, space.slug, [("0-affiche.png", b"\x89PNG\r\n\x1a\n" + b"\0" * 40)])
    zero = doc_named(db, space.id, "0-affiche.png")
    page = client.get(f"/s/{space.slug}/documents/{first.id}").get_data(as_text=True)
    assert f'href="/s/{space.slug}/documents/{zero.id}" rel="prev"' in page
    assert f'href="/s/{space.slug}/documents/{second.id}" rel="next"' in page
    last = client.get(f"/s/{space.slug}/documents/{second.id}").get_data(as_text=True)
    assert f'href="/s/{space.slug}/documents/{first.id}" rel="prev"' in last and 'rel="next"' not in last


def test_pdf_shows_inline_and_other_files_only_download(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("tract.pdf", PDF), ("tableau.txt", b"a;b")])
    tract, tableau = doc_named(db, space.id, "tract.pdf"), doc_named(db, space.id, "tableau.txt")
    shown = client.get(f"/s/{space.slug}/documents/{tract.id}/view")
    assert shown.headers["Content-Disposition"].startswith("inline;") and shown.mimetype == "application/pdf"
    text = client.get(f"/s/{space.slug}/documents/{tableau.id}/view")
    assert text.headers["Content-Disposition"].startswith("attachment;")


# Hostile uploads -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name, content",
    [
        ("photo.jpg", b"<html><body><script>alert(1)</script></body></html>"),
        ("logo.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'),
        ("flux.xml", b'<?xml version="1.0"?><x:script xmlns:x="http://www.w3.org/1999/xhtml">alert(1)</x:script>'),
        ("page.pdf", b"<!DOCTYPE html><html><script>alert(1)</script>"),
    ],
)
def test_active_content_is_never_served_inline(app, db, member_client, name, content):
    client, space, _user = member_client("member")
    assert upload(client, space.slug, [(name, content)]).status_code == 302
    doc = doc_named(db, space.id, name)
    assert doc.content_type not in storage.INLINE_TYPES
    for path in ("view", "download"):
        response = client.get(f"/s/{space.slug}/documents/{doc.id}/{path}")
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.mimetype == "application/octet-stream"
        assert "sandbox" in response.headers["Content-Security-Policy"]
    assert client.get(f"/s/{space.slug}/documents/{doc.id}/thumbnail").status_code == 404


@pytest.mark.parametrize(
    "raw, stored",
    [
        ("../../etc/passwd", "passwd"),
        ("Mes documents/2026/Bilan.docx", "Bilan.docx"),
        ("bilan\x01\x7f.txt", "bilan .txt"),
        ("facture\u202efdp.exe", "facturefdp.exe"),  # the right-to-left override would show it as "exe.pdf"
        ("<img src=x onerror=alert(1)>.txt", "<img src=x onerror=alert(1)>.txt"),
    ],
)
def test_file_names_are_cleaned_and_shown_escaped(app, db, member_client, raw, stored):
    client, space, _user = member_client("member")
    assert upload(client, space.slug, [(raw, b"contenu")]).status_code == 302
    doc = doc_named(db, space.id, stored)
    assert doc is not None
    page = client.get(f"/s/{space.slug}/documents/").get_data(as_text=True)
    assert "<img src=x" not in page


@pytest.mark.parametrize("raw", ["..", "...", " . ", "/", "\\\\"])
def test_names_made_only_of_dots_or_slashes_are_refused(app, db, member_client, raw):
    client, space, _user = member_client("member")
    response = upload(client, space.slug, [(raw, b"contenu")])
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_files(app, space.id) == [] and tmp_files(app) == []
    assert post(client, f"/s/{space.slug}/documents/new-folder", {"new-name": raw}).status_code == 400


def test_empty_file_and_missing_file_are_refused(app, db, member_client):
    client, space, _user = member_client("member")
    empty = upload(client, space.slug, [("vide.txt", b"")])
    assert empty.status_code == 400 and "est vide" in empty.get_data(as_text=True)
    missing = post(
        client, f"/s/{space.slug}/documents/upload", {"on_conflict": "version"}, content_type="multipart/form-data"
    )
    assert missing.status_code == 400 and "Choisissez au moins un fichier" in missing.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0


def test_objects_of_another_space_are_not_found(app, db, member_client):
    client, space, _user = member_client("member")
    other_client, other, _o = member_client("member")
    upload(other_client, other.slug, [("x.txt", b"x")])
    theirs = doc_named(db, other.id, "x.txt")
    their_folder = make_folder(other_client, other.slug, "Leur dossier")
    upload(client, space.slug, [("mien.txt", b"m")])
    mine = doc_named(db, space.id, "mien.txt")
    base = f"/s/{space.slug}/documents"
    their_version = db.session.get(DocumentVersion, theirs.current_version_id)
    assert post(client, f"{base}/{mine.id}/versions/{their_version.id}/restore").status_code == 404
    assert post(client, f"{base}/{mine.id}/move", {"target": str(their_folder)}).status_code == 404
    assert upload(client, space.slug, [("y.txt", b"y")], folder_id=their_folder).status_code == 404
    db.session.expire_all()
    assert doc_named(db, space.id, "mien.txt").folder_id is None
    assert db.session.get(Document, mine.id).current_version_id != their_version.id


# Crash safety and the check --------------------------------------------------------------------


def test_an_error_between_file_write_and_commit_leaves_no_trace(app, db, member_client, monkeypatch):
    client, space, _user = member_client("member")

    def explode(*args, **kwargs):
        raise RuntimeError("panne simulée")

    monkeypatch.setattr(services, "record_activity", explode)
    with pytest.raises(RuntimeError):
        upload(client, space.slug, [("rapport.pdf", PDF)])
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert db.session.scalar(select(func.count()).select_from(DocumentVersion)) == 0
    assert stored_files(app, space.id) == [] and tmp_files(app) == []
    assert db.session.get(Space, space.id).storage_used == 0


def test_a_failing_commit_removes_the_placed_file(app, db, member_client, monkeypatch):
    client, space, _user = member_client("member")
    original = _db.session.commit

    def failing_commit():
        _db.session.rollback()
        raise RuntimeError("disque plein")

    monkeypatch.setattr(_db.session, "commit", failing_commit)
    with pytest.raises(RuntimeError):
        upload(client, space.slug, [("rapport.pdf", PDF)])
    monkeypatch.setattr(_db.session, "commit", original)
    assert db.session.scalar(select(func.count()).select_from(Document)) == 0
    assert stored_files(app, space.id) == [] and tmp_files(app) == []


@pytest.mark.parametrize(
    "failing_sync", [1, 2, 3], ids=["receiving the first file", "placing it", "receiving the second"]
)
def test_a_full_disk_during_an_upload_says_so_and_keeps_nothing(app, db, member_client, monkeypatch, failing_sync):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("avant.txt", b"avant")])
    used = db.session.get(Space, space.id).storage_used
    real_fsync, calls = os.fsync, []

    def full_disk(fd):
        calls.append(fd)
        if len(calls) == failing_sync:  # the disk is full from this write on
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_fsync(fd)

    monkeypatch.setattr(storage.os, "fsync", full_disk)
    response = upload(client, space.slug, [("un.txt", b"un"), ("deux.txt", b"deux")])
    monkeypatch.setattr(storage.os, "fsync", real_fsync)
    assert response.status_code == 507
    assert "plus de place pour enregistrer ce fichier" in response.get_data(as_text=True)
    assert db.session.scalars(select(Document.name)).all() == ["avant.txt"]  # neither file of the request
    assert db.session.get(Space, space.id).storage_used == used
    assert len(stored_files(app, space.id)) == 1 and tmp_files(app) == []
    assert upload(client, space.slug, [("apres.txt", b"apres")]).status_code == 302  # room again: it works


def test_documents_check_reports_and_fixes_orphans_missing_files_and_usage(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("garde.txt", b"garde"), ("perdu.txt", b"perdu")])
    perdu = doc_named(db, space.id, "perdu.txt")
    lost_version = db.session.get(DocumentVersion, perdu.current_version_id)
    storage.path_for(space.id, lost_version.storage_name).unlink()
    orphan = documents_dir(app, space.id) / "ff" / ("ff" * 16)
    orphan.parent.mkdir(parents=True, exist_ok=True)
    orphan.write_bytes(b"orphelin")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    fresh = documents_dir(app, space.id) / "ee" / ("ee" * 16)  # an upload about to commit
    fresh.parent.mkdir(parents=True, exist_ok=True)
    fresh.write_bytes(b"en cours")

    with app.app_context():
        report = services.check()
        assert report.orphans == [orphan] and [v for _s, v, _n in report.missing] == [lost_version.id]
        assert not report.clean
        fixed = services.check(fix=True)
        db.session.commit()
        assert fixed.orphans == [orphan]
    assert not orphan.exists() and fresh.exists()
    db.session.expire_all()
    assert doc_named(db, space.id, "perdu.txt") is None and doc_named(db, space.id, "garde.txt") is not None
    assert db.session.get(Space, space.id).storage_used == len(b"garde")
    with app.app_context():
        assert services.check().clean


# Names -----------------------------------------------------------------------------------------


def test_free_name_and_clean_name():
    assert services.free_name("CR.pdf", {"cr.pdf", "cr (2).pdf"}) == "CR (3).pdf"
    assert services.free_name("Lisez-moi", {"lisez-moi"}) == "Lisez-moi (2)"
    assert services.clean_name("  a/b\\c\n.txt ") == "a-b-c .txt"
    assert services.clean_name("ligne\u2028suite\u200b.txt") == "ligne suite.txt"
    long = services.clean_name("x" * 300 + ".pdf", limit=255)
    assert len(long) == 255 and long.endswith(".pdf")


# Found in review ------------------------------------------------------------------------------


def test_an_upload_that_cannot_fit_is_refused_before_its_body_is_read(app, db, member_client, make_space, make_user):
    space = make_space(quota_mb=1)
    client, _s, _user = member_client("member", space=space)
    with app.app_context():
        _db.session.get(Space, space.id).storage_used = 1024 * 1024 - 10_000
        _db.session.commit()
    response = upload(client, space.slug, [("plan.bin", b"p" * 200_000)])
    assert response.status_code == 413 and "l’envoi pèse" in response.get_data(as_text=True)
    assert tmp_files(app) == [] and stored_files(app, space.id) == []
    stranger = app.test_client()
    login(stranger, make_user("passant").username)
    assert upload(stranger, space.slug, [("plan.bin", b"p" * 200_000)]).status_code == 404


def test_quotas_of_many_gigabytes_count_right(app, db, member_client, make_space):
    space = make_space(quota_mb=4096)
    client, _s, _user = member_client("member", space=space)
    assert upload(client, space.slug, [("grand.txt", b"g")]).status_code == 302


def test_a_long_name_kept_twice_still_fits(app, db, member_client):
    client, space, _user = member_client("member")
    name = "c" * 251 + ".pdf"
    assert upload(client, space.slug, [(name, PDF)]).status_code == 302
    assert upload(client, space.slug, [(name, PDF)], on_conflict="rename").status_code == 302
    names = db.session.scalars(select(Document.name).where(Document.space_id == space.id)).all()
    assert len(names) == 2 and all(len(n) <= 255 and n.endswith(".pdf") for n in names)


def test_a_folder_holding_other_peoples_files_is_trashed_only_by_a_space_admin(app, db, member_client):
    owner, space, _o = member_client("member")
    base = f"/s/{space.slug}/documents"
    folder = make_folder(owner, space.slug, "Commun")
    other, _s, _u = member_client("member", space=space)
    upload(other, space.slug, [("a-moi.txt", b"x")], folder_id=folder)
    assert post(owner, f"{base}/folders/{folder}/delete").status_code == 403
    assert "seul un administrateur" in owner.get(f"{base}/folders/{folder}").get_data(as_text=True)
    mine = make_folder(owner, space.slug, "Perso")
    upload(owner, space.slug, [("mon.txt", b"x")], folder_id=mine)
    assert post(owner, f"{base}/folders/{mine}/delete").status_code == 302
    admin, _s, _a = member_client("admin", space=space)
    assert post(admin, f"{base}/folders/{folder}/delete").status_code == 302


def test_the_attachments_folder_belongs_to_no_one(app, db, member_client):
    client, space, _user = member_client("member")
    from tests.test_attachments import post_multipart as send

    send(
        client,
        f"/s/{space.slug}/forum/new",
        {"title": "Fête", "body": "Affiche", "category": "0"},
        [("attachments", "affiche.pdf", PDF)],
    )
    folder = db.session.scalar(select(Folder).where(Folder.space_id == space.id))
    assert folder.created_by_id is None
    assert post(client, f"/s/{space.slug}/documents/folders/{folder.id}/delete").status_code == 403


def test_folder_page_queries_stay_flat_with_subfolders_by_different_people(app, db, member_client):
    client, space, _user = member_client("member")
    url = f"/s/{space.slug}/documents/"

    def count():
        client.get(url)
        with count_queries(_db.engine) as statements:
            client.get(url)
        return len(statements)

    make_folder(client, space.slug, "Le mien")
    few = count()
    for n in range(6):
        someone, _s, _u = member_client("member", space=space)
        make_folder(someone, space.slug, f"Dossier {n}")
    assert count() == few


def test_purging_the_same_items_twice_gives_their_bytes_back_once(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("a.txt", b"a" * 500), ("b.txt", b"b" * 1000)])
    a = doc_named(db, space.id, "a.txt")
    post(client, f"/s/{space.slug}/documents/{a.id}/delete")
    with app.test_request_context():
        stored = _db.session.get(Space, space.id)
        tree = services.Tree.load(stored)
        stale = _db.session.get(Document, a.id)
        assert services.purge(stored, tree, [], [stale]) == 500
        _db.session.commit()
        assert services.purge(stored, services.Tree.load(stored), [], [stale]) == 0  # already gone
        _db.session.commit()
        assert _db.session.get(Space, space.id).storage_used == 1000


def test_two_versions_sent_at_the_same_moment_are_both_kept(app, db, member_client):
    import threading

    client, space, user = member_client("member")
    upload(client, space.slug, [("plan.txt", b"v1")])
    plan_id = doc_named(db, space.id, "plan.txt").id
    second = app.test_client()
    login(second, user.username)
    barrier, statuses = threading.Barrier(2), []

    def send(browser, content):
        barrier.wait()
        statuses.append(
            post_multipart(
                browser, f"/s/{space.slug}/documents/{plan_id}/versions", {"note": ""}, [("file", "plan.txt", content)]
            ).status_code
        )

    threads = [threading.Thread(target=send, args=(b, c)) for b, c in ((client, b"v2"), (second, b"v3"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [302, 302]
    numbers = db.session.scalars(select(DocumentVersion.number).where(DocumentVersion.document_id == plan_id)).all()
    assert sorted(numbers) == [1, 2, 3]


def test_deleting_a_message_a_task_or_an_event_forgets_its_attachments(app, db, member_client):
    from agora.documents.models import Attachment
    from tests.test_agenda import event_form
    from tests.test_attachments import post_multipart as send

    client, space, _user = member_client("admin")
    topic = send(client, f"/s/{space.slug}/forum/new", {"title": "CR", "body": "Voici", "category": "0"}, [])
    reply = send(client, topic.location + "reply", {"body": "Le salaire"}, [("attachments", "salaires.txt", b"secret")])
    post_id = int(reply.location.rsplit("post-", 1)[1])
    assert post(client, f"/s/{space.slug}/forum/posts/{post_id}/delete").status_code == 302
    event = send(client, f"/s/{space.slug}/agenda/new", event_form(), [("attachments", "odj.txt", b"1")])
    event_id = int(re.search(r"/agenda/(\d+)/", event.location).group(1))
    assert post(client, f"/s/{space.slug}/agenda/{event_id}/delete").status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Attachment)) == 0
    # The files stay in the documents, where their authors can find or delete them.
    assert doc_named(db, space.id, "salaires.txt") is not None
