"""Search: French matching, phrases and prefixes, permissions and counts, freshness, extraction, reindex."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import textwrap
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import select

from agora.extensions import db as _db
from agora.search import backend, index, indexing
from tests.conftest import post
from tests.test_agenda import event_form
from tests.test_documents import doc_named, upload

BASE_PDF = b"%PDF-1.4\n"


def text_pdf(text: str) -> bytes:
    """A one-page PDF whose page draws `text` (what pypdf reads back)."""
    stream = f"BT /F1 12 Tf 72 720 Td ({text}) Tj ET".encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out, offsets = bytearray(BASE_PDF), []
    for n, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def docx(text: str) -> bytes:
    import docx as python_docx

    document = python_docx.Document()
    document.add_paragraph(text)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def odt(text: str) -> bytes:
    from odf.opendocument import OpenDocumentText
    from odf.text import P

    document = OpenDocumentText()
    document.text.addElement(P(text=text))
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def ods(text: str) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    document = OpenDocumentSpreadsheet()
    table, row, cell = Table(name="Feuille"), TableRow(), TableCell()
    cell.addElement(P(text=text))
    row.addElement(cell)
    table.addElement(row)
    document.spreadsheet.addElement(table)
    out = io.BytesIO()
    document.write(out)
    return out.getvalue()


def background_step(app) -> int:
    """What the background process does each round for search: read and index the text of new files."""
    with app.app_context():
        return indexing.extract_pending()


def docx_bomb(megabytes: int) -> bytes:
    """A DOCX of a few kilobytes whose document.xml inflates to `megabytes` MB of text runs."""
    run = b"<w:p><w:r><w:t>lampadaire bombe </w:t></w:r></w:p>"
    body = run * (megabytes * 1024 * 1024 // len(run))
    xml = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?><w:document xmlns:w='
        b'"http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>' + body + b"</w:body></w:document>"
    )
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr(
            "[Content_Types].xml",
            b'<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/'
            b'package/2006/content-types"><Override PartName="/word/document.xml" ContentType="application/'
            b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/></Types>',
        )
        archive.writestr("word/document.xml", xml)
    return out.getvalue()


@pytest.fixture(params=["whoosh", "reference"])
def engine(request, app, monkeypatch):
    """The test runs against Whoosh's engine, then against the reference written from the engine
    contract alone (tests/search_reference.py): what it asserts any engine owes people."""
    if request.param == "reference":
        from tests.search_reference import ReferenceBackend

        monkeypatch.setitem(app.extensions, backend.EXTENSION, ReferenceBackend())
    return request.param


def topic(client, slug, title, body):
    response = post(client, f"/s/{slug}/forum/new", {"title": title, "body": body, "category": "0"})
    assert response.status_code == 302
    return response.location


def titles(client, q, **params):
    response = client.get("/search", query_string={"q": q, **params})
    assert response.status_code == 200, response.get_data(as_text=True)[-1500:]
    page = response.get_data(as_text=True)
    return page


def test_french_words_find_each_other_with_or_without_accents(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Réunion du conseil citoyen", "Les réunions ont lieu au centre social.")
    for query in ("reunion", "réunions", "RÉUNION", "Reunions"):
        assert "Réunion du conseil citoyen" in titles(client, query), query
    assert "1 résultat" in titles(client, "centre sociaux")


def test_phrases_and_prefixes(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Jardin partagé", "Le compte rendu de la visite du jardin.")
    topic(client, space.slug, "Autre sujet", "Rendu des clés : compte sur moi.")
    phrase = titles(client, '"compte rendu"')
    assert "Jardin partagé" in phrase and "Autre sujet" not in phrase and "1 résultat" in phrase
    assert "Jardin partagé" in titles(client, "jard*")
    assert "Jardin partagé" in titles(client, "JARD*")
    highlighted = titles(client, "visite")
    assert re.search(r"<mark class=\"match[^\"]*\">visite</mark>", highlighted)


def test_members_of_another_space_see_nothing_not_even_a_count(app, db, engine, member_client):
    client_a, space_a, _a = member_client("member")
    client_b, space_b, _b = member_client("member")
    topic(client_b, space_b.slug, "Budget secret de B", "Le budget participatif de B.")
    topic(client_a, space_a.slug, "Budget de A", "Le budget de A.")
    page = titles(client_a, "budget")
    assert "Budget de A" in page and "secret" not in page and "1 résultat" in page
    assert "1 résultat" in titles(client_a, "budget", space=space_b.slug)  # someone else's space: mine only
    assert "0 résultat" in titles(client_a, "secret")


def test_a_module_switched_off_is_not_searched_and_one_module_can_be_chosen(app, db, engine, member_client):
    client, space, _user = member_client("admin")
    topic(client, space.slug, "Fête des voisins", "Apportez un plat.")
    upload(client, space.slug, [("Fête des voisins.txt", b"Liste des plats")])
    assert "2 résultats" in titles(client, "voisins")
    forum_only = titles(client, "voisins", module="forum")
    assert "1 résultat" in forum_only
    from agora.spaces.models import Space

    stored = db.session.get(Space, space.id)
    stored.modules = [m for m in stored.modules if m != "forum"]
    db.session.commit()
    page = titles(client, "voisins")
    assert "1 résultat" in page and "Fête des voisins.txt" in page


def test_fresh_after_create_edit_and_delete(app, db, engine, member_client):
    client, space, _user = member_client("member")
    location = topic(client, space.slug, "Encombrants", "Passage le premier lundi.")
    assert "Encombrants" in titles(client, "lundi")
    reply = post(client, location + "reply", {"body": "Et les matelas ?"})
    post_id = int(reply.location.rsplit("post-", 1)[1])
    assert "matelas" in titles(client, "matelas")
    assert post(client, f"/s/{space.slug}/forum/posts/{post_id}/edit", {"body": "Et les sommiers ?"}).status_code == 302
    assert "0 résultat" in titles(client, "matelas") and "1 résultat" in titles(client, "sommiers")
    assert post(client, f"/s/{space.slug}/forum/posts/{post_id}/delete").status_code == 302
    assert "0 résultat" in titles(client, "sommiers")


def test_trashed_documents_leave_the_results_and_come_back(app, db, engine, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("Charte.txt", b"La charte du conseil citoyen")])
    charte = doc_named(db, space.id, "Charte.txt")
    assert "Charte.txt" in titles(client, "charte")
    post(client, f"/s/{space.slug}/documents/{charte.id}/delete")
    assert "0 résultat" in titles(client, "charte")
    post(client, f"/s/{space.slug}/documents/trash/{charte.id}/restore")
    assert "Charte.txt" in titles(client, "charte")


@pytest.mark.parametrize(
    "name, content",
    [
        ("notes.txt", "Le lampadaire du passage est cassé".encode()),
        ("tract.pdf", text_pdf("Le lampadaire du passage est casse")),
        ("courrier.docx", docx("Le lampadaire du passage est cassé")),
        ("rapport.odt", odt("Le lampadaire du passage est cassé")),
        ("tableau.ods", ods("Le lampadaire du passage est cassé")),
    ],
)
def test_the_text_inside_files_is_found(app, db, member_client, name, content):
    client, space, _user = member_client("member")
    assert upload(client, space.slug, [(name, content)]).status_code == 302
    assert "0 résultat" in titles(client, "lampadaires")  # read by the background process, not the upload
    background_step(app)
    page = titles(client, "lampadaires")
    assert name in page and "1 résultat" in page
    assert "<mark" in page  # the excerpt shows the words found


def test_a_docx_bomb_is_not_read_in_the_upload_and_its_reading_is_bounded(app, db, member_client, monkeypatch):
    from agora.documents.models import DocumentVersion
    from agora.search import extract

    client, space, _user = member_client("member")
    bomb = docx_bomb(24)
    assert len(bomb) < 200_000
    calls = []
    monkeypatch.setattr(extract, "text_of", lambda *args: calls.append(args) or "")
    assert upload(client, space.slug, [("courrier.docx", bomb)]).status_code == 302
    assert calls == []  # the request never opened the file's text
    version = db.session.scalar(select(DocumentVersion))
    assert version.text_pending and version.extracted_text is None  # durable: written with the version
    assert "courrier.docx" in titles(client, "courrier")  # its name is found at once
    monkeypatch.undo()

    read = []
    real_read = zipfile.ZipExtFile.read
    monkeypatch.setattr(
        zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(len(chunk := real_read(self, n))) or chunk
    )
    assert background_step(app) == 1
    info = zipfile.ZipFile(io.BytesIO(bomb)).getinfo("word/document.xml")
    assert info.file_size > 24_000_000
    assert sum(read) <= min(extract.MAX_MEMBER_BYTES, extract.MAX_RATIO * info.compress_size)
    db.session.expire_all()
    version = db.session.get(DocumentVersion, version.id)
    assert not version.text_pending and 0 < len(version.extracted_text) <= extract.MAX_CHARS
    page = titles(client, "lampadaire")
    assert "courrier.docx" in page and "1 résultat" in page


def test_a_crash_before_the_text_is_indexed_loses_nothing(app, db, member_client, monkeypatch):
    from agora.documents.models import DocumentVersion

    client, space, _user = member_client("member")
    upload(client, space.slug, [("notes.txt", b"Le lampadaire du passage")])

    def crash(_changes):
        raise RuntimeError("killed while writing the index")

    monkeypatch.setattr(indexing, "apply", crash)
    with pytest.raises(RuntimeError):
        background_step(app)
    monkeypatch.undo()
    assert db.session.scalar(select(DocumentVersion.text_pending))
    assert "0 résultat" in titles(client, "lampadaire")
    assert background_step(app) == 1
    assert "notes.txt" in titles(client, "lampadaire")
    assert background_step(app) == 0


def test_renaming_keeps_the_text_found_without_reading_the_file_again(app, db, member_client, monkeypatch):
    from agora.search import extract

    client, space, _user = member_client("member")
    upload(client, space.slug, [("notes.txt", b"Le lampadaire du passage")])
    background_step(app)
    monkeypatch.setattr(extract, "text_of", lambda *args: pytest.fail("the file was read again"))
    notes = doc_named(db, space.id, "notes.txt")
    assert post(client, f"/s/{space.slug}/documents/{notes.id}/rename", {"name": "rue.txt"}).status_code == 302
    page = titles(client, "lampadaire")
    assert "rue.txt" in page and "1 résultat" in page


def test_the_reindex_command_reads_the_text_still_waiting(app, db, member_client):
    client, space, _user = member_client("member")
    upload(client, space.slug, [("courrier.docx", docx("Le lampadaire du passage est cassé"))])
    assert "0 résultat" in titles(client, "lampadaire")
    with app.app_context():  # what `agora search reindex` runs
        assert indexing.reindex(read_texts=True) >= 2
    assert "courrier.docx" in titles(client, "lampadaire")
    assert background_step(app) == 0  # nothing left for the background process


@pytest.mark.parametrize("maker", [docx, odt])
def test_office_files_with_a_dtd_give_no_text(tmp_path, maker):
    from agora.search import extract

    member = "word/document.xml" if maker is docx else "content.xml"
    source = zipfile.ZipFile(io.BytesIO(maker("Le lampadaire")))
    xml = source.read(member)
    declaration = xml.index(b"?>") + 2
    laughs = b'<!DOCTYPE x [<!ENTITY a "lol"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>'
    path = tmp_path / "piege"
    with zipfile.ZipFile(path, "w") as archive:
        for info in source.infolist():
            archive.writestr(
                info, xml[:declaration] + laughs + xml[declaration:] if info.filename == member else source.read(info)
            )
    content_type = extract.DOCX if maker is docx else extract.ODF[0]
    assert extract.text_of(path, content_type) == ""
    clean = tmp_path / "propre"
    clean.write_bytes(maker("Le lampadaire"))
    assert extract.text_of(clean, content_type).strip() == "Le lampadaire"


def test_the_background_process_reads_the_text_each_round(app, db, member_client):
    from agora.cli import _background_jobs
    from agora.notifications import sender

    client, space, _user = member_client("member")
    upload(client, space.slug, [("rapport.odt", odt("Le lampadaire du passage est cassé"))])
    sender.one_round(app, jobs=_background_jobs())
    assert "rapport.odt" in titles(client, "lampadaire")


def test_member_details_are_found_only_when_every_member_may_see_them(
    app, db, engine, member_client, make_user, make_member
):
    client, space, _user = member_client("member")
    person = make_user("rachid.b", display_name="Rachid Benamar")
    make_member(space, person, "member")
    with app.app_context():  # its own context: the index is written when it ends, as after a request
        from agora.auth.models import User
        from agora.members import services as members

        stored = _db.session.get(User, person.id)
        members.update_profile_details(
            stored,
            phone="06 12 34 56 78",
            presentation="Jardinier amateur",
            privacy={"phone": "admins", "presentation": "members"},
        )
        _db.session.commit()
    assert "Rachid Benamar" in titles(client, "jardinier")
    assert "0 résultat" in titles(client, "0612345678") and "0 résultat" in titles(client, "06")


@pytest.mark.parametrize(
    "query, message",
    [
        ("", "Tapez un ou plusieurs mots"),
        ("les des du", "trop courants"),
        ("*", "deux lettres"),
        ("a*", "deux lettres"),
        ("x" * 10_000, "trop longue"),
    ],
)
def test_queries_that_cannot_be_searched_get_a_clear_message(app, db, engine, member_client, query, message):
    client, _space, _user = member_client("member")
    response = client.get("/search", query_string={"q": query})
    assert response.status_code == 400 and message in response.get_data(as_text=True)


def test_unbalanced_quotes_and_odd_characters_never_break_the_page(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Compte rendu", "de la plénière")
    for query in (
        '"compte rendu',
        'compte"',
        "(((",
        "AND OR NOT",
        "NOT NOT plénière",
        "compte NOT NOT rendu",
        "plénière)",
        "'",
        "title:compte",
        "space_id:1",
    ):
        response = client.get("/search", query_string={"q": query})
        assert response.status_code in (200, 400), query


def test_excerpts_are_escaped(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Piège", "<script>alert('jardin')</script> <img src=x onerror=alert(1)> jardin")
    page = titles(client, "jardin")
    assert "<script>alert" not in page and "<img src=x" not in page and "&lt;img src=x" in page


def test_reindex_rebuilds_a_missing_or_damaged_index(app, db, member_client, caplog):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Ramassage des feuilles", "En novembre.")
    with app.app_context():
        folder = index.space_dir(space.id)
    for path in folder.iterdir():
        path.write_bytes(b"abime")
    with caplog.at_level("WARNING"):
        assert "Ramassage des feuilles" in titles(client, "feuilles")
    assert "search index unreadable" in caplog.text and "rebuilding it from the database" in caplog.text
    with app.app_context():
        assert indexing.reindex() >= 2  # the topic and the membership
        from agora.spaces.models import Space

        assert indexing.reindex(db.session.get(Space, space.id).id) >= 2
    assert "Ramassage des feuilles" in titles(client, "feuilles")


def test_an_index_caught_mid_commit_is_opened_again_not_rebuilt(app, db, member_client, caplog, monkeypatch):
    """Another worker's commit can replace the table of contents a reader chose: a passing error."""
    client, space, _user = member_client("member")
    topic(client, space.slug, "Ramassage des feuilles", "En novembre.")
    real_open, calls = index.whoosh_index.open_dir, []

    def racing_open(*args, **kwargs):
        calls.append(args)
        if len(calls) <= 2:
            raise FileNotFoundError(2, "No such file or directory", "_MAIN_234.toc")
        return real_open(*args, **kwargs)

    def no_rebuild(*_args, **_kwargs):
        raise AssertionError("the whole index was rebuilt")

    monkeypatch.setattr(index.whoosh_index, "open_dir", racing_open)
    monkeypatch.setattr(indexing, "reindex", no_rebuild)
    caplog.clear()
    with caplog.at_level("WARNING"):
        assert "Ramassage des feuilles" in titles(client, "feuilles")
    assert len(calls) >= 3 and "rebuilding" not in caplog.text


@pytest.mark.slow
def test_two_processes_writing_at_once_lose_nothing(app, tmp_path):
    with app.app_context():
        index.create()
        folder = index.index_dir()
    script = textwrap.dedent(f"""
        import sys
        from agora import create_app
        from agora.search import index
        app = create_app({{"TESTING": True, "SECRET_KEY": "x", "INSTANCE_PATH": {str(folder.parent)!r},
                           "SQLALCHEMY_DATABASE_URI": "sqlite://"}})
        worker = int(sys.argv[1])
        with app.app_context():
            for n in range(25):
                with index.writer(1) as w:
                    w.update_document(key=f"forum.topic:{{worker * 1000 + n}}", kind="forum.topic", module="forum",
                                      space_id="1", object_id=worker * 1000 + n, title=f"Sujet {{n}}", body="texte")
    """)
    processes = [subprocess.Popen([sys.executable, "-c", script, str(worker)]) for worker in (1, 2)]
    assert [p.wait(timeout=120) for p in processes] == [0, 0]
    with app.app_context():
        with index.open_index(1).searcher() as searcher:
            assert searcher.doc_count() == 50


def test_a_deleted_space_leaves_the_index(app, db, member_client, make_user):
    from sqlalchemy import select

    from agora.spaces.models import Space

    client, space, _user = member_client("admin")
    topic(client, space.slug, "Sujet à effacer", "Contenu de l'espace supprimé")
    admin = make_user("hebergeur", is_site_admin=True)
    from tests.conftest import login

    host = app.test_client()
    login(host, admin.username)
    response = post(host, f"/admin/spaces/{space.id}/delete", {"delete-confirmation": space.slug})
    assert response.status_code == 302 and db.session.scalar(select(Space).where(Space.id == space.id)) is None
    with app.app_context():
        assert not index.space_dir(space.id).exists()
        assert index.open_index(space.id, create_missing=False) is None


def test_renaming_or_removing_an_organisation_updates_its_members_entries(
    app, db, engine, member_client, make_user, make_member
):
    client, space, _admin = member_client("admin")
    person = make_user("nadia.k", display_name="Nadia Kaci")
    make_member(space, person, "member")
    assert post(client, f"/s/{space.slug}/members/organisations/", {"name": "Régie Nord"}).status_code == 302
    with app.app_context():
        from agora.members import services as members
        from agora.spaces.models import Membership, Space

        stored = _db.session.get(Space, space.id)
        organisation = members.find_organisation(stored, "Régie Nord")
        membership = _db.session.scalar(_db.select(Membership).filter_by(space_id=space.id, user_id=person.id))
        members.set_membership_details(stored, membership, organisation_id=organisation.id, function="Médiatrice")
        _db.session.commit()
        organisation_id = organisation.id
    assert "Nadia Kaci" in titles(client, "regie")
    assert (
        post(
            client,
            f"/s/{space.slug}/members/organisations/{organisation_id}/edit",
            {"name": "Centre social Sud", "description": ""},
        ).status_code
        == 302
    )
    assert "0 résultat" in titles(client, "regie")
    assert "Nadia Kaci" in titles(client, "centre social")
    assert post(client, f"/s/{space.slug}/members/organisations/{organisation_id}/delete", {}).status_code == 302
    assert "0 résultat" in titles(client, "centre social")
    assert "Nadia Kaci" in titles(client, "mediatrice")


# What habitants type: accents, capitals, plurals --------------------------------------------------

FRENCH_TEXT = (
    "Point sécurité : la première tournée",
    "Compte rendu de la plénière. Les réunions du conseil, l'élection des délégués, la fête de l'école, "
    "un événement au cœur du quartier, le marché de Noël, l'égalité des chances, la chaîne de bénévoles.",
)


@pytest.mark.parametrize(
    "query",
    [
        "securite",
        "sécurité",
        "SECURITE",
        "Sécurités",
        "SÉCURITÉ",
        "premiere",
        "première",
        "PREMIERES",
        "pleniere",
        "plénière",
        "Plénières",
        "PLENIERE",
        "reunion",
        "réunion",
        "reunions",
        "Réunions",
        "RÉUNION",
        "election",
        "élections",
        "ELECTION",
        "fete",
        "fêtes",
        "FÊTE",
        "ecole",
        "écoles",
        "Ecoles",
        "evenement",
        "événements",
        "EVENEMENTS",
        "coeur",
        "cœur",
        "COEUR",
        "noel",
        "Noël",
        "NOËL",
        "egalite",
        "égalités",
        "EGALITE",
        "chaine",
        "chaînes",
        "CHAINE",
        "benevole",
        "bénévoles",
        "BENEVOLES",
        "securite reunion",
        "pleniere premiere",
    ],
)
def test_any_mix_of_accents_capitals_and_plurals_finds_the_word(app, db, engine, member_client, query):
    client, space, _user = member_client("member")
    topic(client, space.slug, *FRENCH_TEXT)
    page = titles(client, query)
    assert "Point sécurité : la première tournée" in page and "1 résultat" in page, query


def test_folding_does_not_make_every_word_match(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, *FRENCH_TEXT)
    for query in ("piscine", "securise", "premier ministre", "reunir"):
        assert "0 résultat" in titles(client, query), query


def test_an_index_built_by_an_older_analyzer_is_rebuilt_when_opened(app, db, member_client, caplog):
    client, space, _user = member_client("member")
    topic(client, space.slug, *FRENCH_TEXT)
    with app.app_context():
        folder = index.index_dir()
        assert index.built_version() == index.VERSION
        # An index from before the stamp: its entries were stemmed before being folded.
        index.create()
        (folder / index.STAMP).unlink()
        with index.create_space(space.id).writer() as w:
            w.add_document(
                key="forum.topic:999",
                kind="forum.topic",
                module="forum",
                space_id=str(space.id),
                object_id=999,
                title="Ancienne entrée",
                body="",
            )
    with caplog.at_level("WARNING"):
        page = titles(client, "securite")
    assert "Point sécurité : la première tournée" in page and "1 résultat" in page
    assert "built by another version" in caplog.text
    with app.app_context():
        assert index.built_version() == index.VERSION


def test_a_person_in_more_spaces_than_readers_are_kept_finds_all_of_them(
    app, db, member_client, make_space, make_member, monkeypatch
):
    monkeypatch.setattr(index, "KEPT_READERS", 2)
    client, space, user = member_client("member")
    topic(client, space.slug, "Vide-grenier du square", "Inscriptions.")
    for _ in range(3):
        other = make_space()
        make_member(other, user)
        topic(client, other.slug, "Vide-grenier du square", "Inscriptions.")
    assert "4 résultats" in titles(client, "vide-grenier")
    assert "4 résultats" in titles(client, "vide-grenier")  # with the readers kept by the first


def test_a_search_before_anything_is_indexed_finds_nothing_without_an_error(app, db, member_client):
    """A new instance's index has no segment yet: the page says nothing was found."""
    client, _space, _user = member_client("member")
    index.create()
    assert "Rien ne correspond." in titles(client, "jardin").replace("&nbsp;", " ")


def result_titles(client, q) -> list[str]:
    """The titles of the results, in the order the page shows them."""

    return re.findall(r'<p class="result-title"><a href="[^"]*">([^<]*)</a>', titles(client, q))


def test_titles_come_before_bodies_whatever_the_counts(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Compte rendu de novembre", "Le composteur déborde, le composteur sent, le composteur.")
    topic(client, space.slug, "Le composteur du square", "À vider le samedi.")
    # The first says the word three times in a short body; the second has it once, in its title.
    assert result_titles(client, "composteur") == ["Le composteur du square", "Compte rendu de novembre"]


def test_the_words_as_typed_come_before_their_other_forms(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Réunion du bureau", "Ordre du jour.")
    topic(client, space.slug, "Réunions de quartier", "Ordre du jour.")
    assert result_titles(client, "réunions") == ["Réunions de quartier", "Réunion du bureau"]
    assert result_titles(client, "reunion") == ["Réunion du bureau", "Réunions de quartier"]
    assert result_titles(client, "REUNIONS")[0] == "Réunions de quartier"


def test_at_equal_relevance_the_more_recent_comes_first(app, db, engine, member_client, frozen_clock):
    client, space, _user = member_client("member")
    made = []
    for month in ("janvier", "février", "mars"):
        made.append(topic(client, space.slug, "Permanence logement", f"Notes de {month}."))
        frozen_clock.advance(hours=5)
    page = titles(client, "permanence")
    shown = [page.index(f'href="{url}') for url in made]
    assert shown[2] < shown[1] < shown[0]


def test_at_equal_relevance_what_is_planned_comes_by_how_soon(app, db, engine, member_client, frozen_clock):
    """An event's date is when it happens: tomorrow's comes before a topic of three days ago, which
    comes before next year's event (not the furthest in the future first)."""
    client, space, _user = member_client("member")
    topic(client, space.slug, "Brocante du printemps", "Les stands.")
    now = frozen_clock.advance(days=3)
    for away, title in ((365, "Brocante d'automne"), (1, "Brocante de demain")):
        day = (now + timedelta(days=away)).date().isoformat()
        form = event_form(title=title, start_date=day, end_date=day)
        assert post(client, f"/s/{space.slug}/agenda/new", form).status_code == 302
    assert result_titles(client, "brocante") == [
        "Brocante de demain",
        "Brocante du printemps",
        "Brocante d&#39;automne",
    ]


def test_words_split_between_title_and_body_are_still_found_after_the_rest(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Fête des voisins", "Le barbecue est prêté par la régie.")
    topic(client, space.slug, "Barbecue de la fête", "Rendez-vous au square.")
    assert result_titles(client, "fête barbecue") == ["Barbecue de la fête", "Fête des voisins"]


def test_a_page_filled_by_titles_says_more_and_the_next_page_goes_on_with_bodies(app, db, engine, member_client):
    client, space, _user = member_client("member")
    for n in range(21):
        topic(client, space.slug, f"Balcons fleuris {n}", "Concours.")
    topic(client, space.slug, "Concours du quartier", "Les balcons fleuris gagnent.")
    first = titles(client, "balcons")
    assert "Plus de 20 résultats" in first and "Concours du quartier" not in first
    second = titles(client, "balcons", page=2)
    assert "Concours du quartier" in second and second.count('class="result-title"') == 2


def test_entries_of_the_same_moment_are_each_shown_once_across_the_pages(app, db, engine, member_client, frozen_clock):
    """The clock is frozen: every topic has the same date, and the pages still go through them all."""
    client, space, _user = member_client("member")
    made = {topic(client, space.slug, f"Balcons fleuris {n}", "Concours.") for n in range(32)}
    frozen_clock.advance(hours=2)
    for rebuilt in (False, True):
        if rebuilt:  # the space's entries in one segment, as `agora search reindex` writes them
            with app.app_context():
                indexing.reindex()
        first, second = titles(client, "balcons"), titles(client, "balcons", page=2)
        shown = [url for page in (first, second) for url in made if f'href="{url}"' in page]
        assert first.count('class="result-title"') == 20 and second.count('class="result-title"') == 12
        assert sorted(shown) == sorted(made), rebuilt


def test_an_entry_found_by_its_title_shows_how_its_text_begins(app, db, engine, member_client):
    client, space, _user = member_client("member")
    topic(client, space.slug, "Composteur du square", "À vider le samedi matin, " + "puis rincer le bac. " * 20)
    page = titles(client, "composteur")
    assert "À vider le samedi matin, puis rincer le bac." in page
