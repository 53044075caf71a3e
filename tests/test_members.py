"""Member directory: privacy per field and audience everywhere, organisations, exports, import, avatars."""

from __future__ import annotations

import csv
import io
import re

import pytest
import vobject
from PIL import Image
from sqlalchemy import func, select

from agora.auth.models import User
from agora.core.mail import OutboxMessage
from agora.members.models import Organisation
from agora.spaces.models import Membership, Space
from tests.conftest import login, post
from tests.test_queries import count_queries

VALUES = {
    "phone": "06 12 34 56 78",
    "email": "fatou@example.org",
    "organisation": "Régie de quartier",
    "function": "Encadrante",
    "presentation": "Je m'occupe du jardin.",
}


@pytest.fixture
def directory(app, db, make_user, make_space, make_member):
    """A space with Fatou (who fills every field), a member, a reader and an admin, all logged in."""
    space = make_space("conseil")
    fatou = make_user("fatou", display_name="Fatou Diallo-Sané", email=VALUES["email"])
    clients = {}
    for role in ("admin", "member", "reader"):
        user = make_user(f"{role}.x", display_name=f"{role.title()} X")
        make_member(space, user, role)
        client = app.test_client()
        login(client, user.username)
        clients[role] = client
    membership = make_member(space, fatou, "member")
    with app.app_context():
        org = Organisation(space_id=space.id, name=VALUES["organisation"])
        db.session.add(org)
        db.session.flush()
        m = db.session.get(Membership, membership.id)
        m.organisation_id, m.function = org.id, VALUES["function"]
        u = db.session.get(User, fatou.id)
        u.phone, u.presentation = VALUES["phone"], VALUES["presentation"]
        db.session.commit()
    fatou_client = app.test_client()
    login(fatou_client, "fatou")
    clients["self"] = fatou_client
    return space, fatou, clients


def set_privacy(db, user_id, **choices):
    user = db.session.get(User, user_id)
    user.privacy = choices
    db.session.commit()


def shown_in(client, url) -> str:
    return client.get(url).get_data(as_text=True)


def exports(client, space, user_id) -> dict[str, str]:
    return {
        "directory": shown_in(client, f"/s/{space.slug}/members/"),
        "profile": shown_in(client, f"/s/{space.slug}/members/{user_id}"),
        "vcard": shown_in(client, f"/s/{space.slug}/members/{user_id}.vcf"),
        "directory vcard": shown_in(client, f"/s/{space.slug}/members/directory.vcf"),
    }


VISIBLE = {  # audience -> viewers who see the field
    "members": {"self", "reader", "member", "admin"},
    "admins": {"self", "admin"},
    "nobody": {"self"},
}


@pytest.mark.parametrize("field", list(VALUES))
@pytest.mark.parametrize("audience", list(VISIBLE))
def test_privacy_for_every_field_and_audience_everywhere(directory, db, field, audience):
    space, fatou, clients = directory
    set_privacy(db, fatou.id, **{field: audience})
    needle = VALUES[field].replace("'", "&#39;")
    for viewer, client in clients.items():
        for where, text in exports(client, space, fatou.id).items():
            plain = text.replace("\\,", ",").replace("\r\n ", "")
            found = needle in text or VALUES[field] in plain
            if field == "phone" and where.endswith("vcard"):
                found = "+33612345678" in plain or "0612345678" in plain
            if field == "organisation" and where == "directory" and viewer in VISIBLE[audience]:
                pass  # also in the filter list, checked below
            expected = viewer in VISIBLE[audience]
            if field == "organisation" and where == "directory" and not expected:
                # The organisation list itself is public to members; the card must not carry it.
                card = re.search(r'<li class="card member-card">.*?Fatou Diallo-Sané.*?</li>', text, re.S).group(0)
                found = VALUES[field] in card
            assert found == expected, (field, audience, viewer, where)
        if clients.get("admin") is client:
            csv_text = shown_in(client, f"/s/{space.slug}/members/directory.csv")
            assert (VALUES[field] in csv_text) == ("admin" in VISIBLE[audience] and field != "presentation")


def test_default_privacy_keeps_phone_and_email_for_admins(directory, db):
    space, fatou, clients = directory
    member_view = shown_in(clients["member"], f"/s/{space.slug}/members/{fatou.id}")
    admin_view = shown_in(clients["admin"], f"/s/{space.slug}/members/{fatou.id}")
    assert VALUES["phone"] not in member_view and VALUES["email"] not in member_view
    assert VALUES["phone"] in admin_view and VALUES["email"] in admin_view
    assert "Encadrante" in member_view


def test_csv_is_for_admins_and_survives_accents(directory):
    space, fatou, clients = directory
    assert clients["member"].get(f"/s/{space.slug}/members/directory.csv").status_code == 403
    response = clients["admin"].get(f"/s/{space.slug}/members/directory.csv")
    rows = list(csv.DictReader(io.StringIO(response.data.decode("utf-8-sig"))))
    fatou_row = next(r for r in rows if r["username"] == "fatou")
    assert fatou_row["display_name"] == "Fatou Diallo-Sané" and fatou_row["organisation"] == "Régie de quartier"


def test_vcard_parses_back_with_an_independent_parser(directory):
    space, fatou, clients = directory
    text = clients["admin"].get(f"/s/{space.slug}/members/{fatou.id}.vcf").data.decode("utf-8")
    assert "\r\n" in text and all(len(line.encode()) <= 75 for line in text.split("\r\n"))
    card = vobject.readOne(text)
    assert card.fn.value == "Fatou Diallo-Sané"
    assert card.org.value == ["Régie de quartier"]
    assert card.email.value == VALUES["email"]
    assert card.title.value == "Encadrante"
    assert card.note.value == "Je m'occupe du jardin."
    everyone = list(
        vobject.readComponents(clients["admin"].get(f"/s/{space.slug}/members/directory.vcf").data.decode())
    )
    assert len(everyone) == 4


def test_long_names_fold_without_breaking_characters(app, directory, db):
    space, fatou, clients = directory
    user = db.session.get(User, fatou.id)
    user.presentation = "é" * 120 + "\nfin, et ; virgule"
    user.privacy = {"presentation": "members"}
    db.session.commit()
    text = clients["member"].get(f"/s/{space.slug}/members/{fatou.id}.vcf").data.decode("utf-8")
    assert vobject.readOne(text).note.value == "é" * 120 + "\nfin, et ; virgule"


def test_stranger_and_other_space_ids_get_404(directory, make_space, make_user, make_member, app):
    space, fatou, clients = directory
    other = make_space("ailleurs")
    outsider = make_user("dehors")
    make_member(other, outsider, "admin")
    assert clients["member"].get(f"/s/{space.slug}/members/{outsider.id}").status_code == 404
    assert clients["member"].get(f"/s/{space.slug}/members/{outsider.id}.vcf").status_code == 404
    stranger = app.test_client()
    login(stranger, "dehors")
    assert stranger.get(f"/s/{space.slug}/members/{fatou.id}").status_code == 404


def test_member_picks_an_organisation_of_this_space_only(directory, make_space, app, db):
    space, fatou, clients = directory
    other = make_space("autre")
    with app.app_context():
        foreign = Organisation(space_id=other.id, name="Étrangère")
        db.session.add(foreign)
        db.session.commit()
        foreign_id = foreign.id
    response = post(clients["self"], f"/s/{space.slug}/members/me", {"organisation": str(foreign_id), "function": "x"})
    assert response.status_code == 400
    own = db.session.scalar(select(Organisation.id).where(Organisation.space_id == space.id))
    assert (
        post(
            clients["self"], f"/s/{space.slug}/members/me", {"organisation": str(own), "function": "Bénévole"}
        ).status_code
        == 302
    )
    assert db.session.scalar(select(Membership.function).where(Membership.user_id == fatou.id)) == "Bénévole"


def test_organisations_page_and_filter(directory, db):
    space, fatou, clients = directory
    assert (
        post(clients["member"], f"/s/{space.slug}/members/organisations/", {"name": "Centre social"}).status_code == 403
    )
    assert (
        post(clients["admin"], f"/s/{space.slug}/members/organisations/", {"name": "Centre social"}).status_code == 302
    )
    assert (
        post(clients["admin"], f"/s/{space.slug}/members/organisations/", {"name": "centre SOCIAL"}).status_code == 409
    )
    org = db.session.scalar(select(Organisation).where(Organisation.name == "Régie de quartier"))
    page = shown_in(clients["member"], f"/s/{space.slug}/members/?organisation={org.id}")
    assert "Fatou Diallo-Sané" in page and "Member X" not in page
    assert clients["member"].get(f"/s/{space.slug}/members/?organisation=999999").status_code == 404


def test_search_box_finds_people_by_name(directory):
    space, _fatou, clients = directory
    page = shown_in(clients["member"], f"/s/{space.slug}/members/?q=diallo")
    assert "Fatou Diallo-Sané" in page and "Reader X" not in page
    assert "Reader X" not in shown_in(clients["member"], f"/s/{space.slug}/members/?q=%25_")


def test_privacy_choices_from_the_profile(directory, db):
    space, fatou, clients = directory
    response = post(
        clients["self"],
        "/profile/directory",
        {
            "dir-phone": "07 00 00 00 00",
            "dir-presentation": "Bonjour",
            "dir-privacy_phone": "members",
            "dir-privacy_email": "nobody",
            "dir-privacy_organisation": "admins",
            "dir-privacy_function": "members",
            "dir-privacy_presentation": "nobody",
        },
    )
    assert response.status_code == 302
    user = db.session.get(User, fatou.id)
    assert user.phone == "07 00 00 00 00"
    assert user.privacy["email"] == "nobody" and user.privacy["organisation"] == "admins"
    bad = post(
        clients["self"],
        "/profile/directory",
        {
            "dir-privacy_phone": "everyone",
            "dir-privacy_email": "nobody",
            "dir-privacy_organisation": "admins",
            "dir-privacy_function": "members",
            "dir-privacy_presentation": "nobody",
        },
    )
    assert bad.status_code == 400
    assert db.session.get(User, fatou.id).privacy["phone"] == "members"


def image_bytes(fmt="JPEG", size=(600, 400), exif_rotate=False) -> bytes:
    image = Image.new("RGB", size, (200, 30, 30))
    buffer = io.BytesIO()
    if exif_rotate:
        exif = Image.Exif()
        exif[0x0112] = 6  # rotated 90°: width and height swap when shown
        image.save(buffer, fmt, exif=exif)
    else:
        image.save(buffer, fmt)
    return buffer.getvalue()


def upload_avatar(client, data: bytes, name="photo.jpg"):
    return post(
        client,
        "/profile/directory",
        {
            "dir-privacy_phone": "admins",
            "dir-privacy_email": "admins",
            "dir-privacy_organisation": "members",
            "dir-privacy_function": "members",
            "dir-privacy_presentation": "members",
            "dir-avatar": (io.BytesIO(data), name),
        },
        content_type="multipart/form-data",
    )


def test_avatar_upload_is_reencoded_square_and_served_to_the_space_only(app, directory, db, make_user):
    space, fatou, clients = directory
    assert upload_avatar(clients["self"], image_bytes(exif_rotate=True)).status_code == 302
    response = clients["member"].get(f"/s/{space.slug}/members/{fatou.id}/avatar")
    assert response.status_code == 200 and response.mimetype == "image/jpeg"
    with Image.open(io.BytesIO(response.data)) as shown:
        assert shown.size == (256, 256) and shown.format == "JPEG"
    response.close()
    make_user("inconnu")
    outsider = app.test_client()
    login(outsider, "inconnu")
    assert outsider.get(f"/s/{space.slug}/members/{fatou.id}/avatar").status_code == 404


@pytest.mark.parametrize(
    "data, status",
    [
        (b"<html><script>alert(1)</script></html>", 415),
        (b"GIF89a" + b"\x00" * 20, 415),
        (b"\xff\xd8\xff" + b"x" * 2000, 413),
    ],
)
def test_bad_avatars_are_refused(directory, db, monkeypatch, data, status):
    from agora.members import services

    # A small limit keeps the test client's request in memory; the rule is the same at 5 MB.
    monkeypatch.setattr(services, "AVATAR_MAX_BYTES", 1000)
    space, fatou, clients = directory
    assert upload_avatar(clients["self"], data, "photo.jpg").status_code == status
    assert db.session.get(User, fatou.id).avatar is None


def test_an_avatar_with_too_many_pixels_is_refused_in_words_before_decoding(directory, db, monkeypatch):
    from tests.test_documents import huge_png, no_decoding

    space, fatou, clients = directory
    no_decoding(monkeypatch)
    response = upload_avatar(clients["self"], huge_png(5000, 4000), "photo.png")
    assert response.status_code == 413
    assert "Cette image est trop grande : 16 millions de pixels au plus." in response.get_data(as_text=True)
    assert db.session.get(User, fatou.id).avatar is None


def csv_file(text: str, encoding="utf-8"):
    return (io.BytesIO(text.encode(encoding)), "personnes.csv")


def preview(client, space, text, encoding="utf-8"):
    return post(
        client,
        f"/s/{space.slug}/members/import",
        {"file": csv_file(text, encoding)},
        content_type="multipart/form-data",
    )


IMPORT = (
    "display_name,email,organisation,function,role\n"
    "Aïcha Traoré,,Centre social,Habitante,reader\n"
    "Marc Durand,marc@example.org,Régie de quartier,Encadrant,member\n"
    "Fatou Diallo-Sané,fatou@example.org,,,member\n"
)


def test_import_preview_then_all_or_nothing_with_setup_sheets_and_invitations(directory, db):
    space, fatou, clients = directory
    admin = clients["admin"]
    before = db.session.scalar(select(func.count()).select_from(User))
    response = preview(admin, space, IMPORT)
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert (
        page.count("créer le compte (fiche à remettre)") == 1 and page.count("envoyer une invitation par e-mail") == 2
    )
    assert "existant" not in page
    assert db.session.scalar(select(func.count()).select_from(User)) == before  # nothing yet
    data = re.search(r'name="data" value="([^"]+)"', page).group(1)
    done = post(admin, f"/s/{space.slug}/members/import/confirm", {"data": data})
    sheet = done.get_data(as_text=True)
    assert done.status_code == 200 and sheet.count("/setup/") == 1 and sheet.count("<svg") >= 1
    assert "2 invitations envoyées par e-mail" in sheet and "marc@example.org" in sheet
    aicha = db.session.scalar(select(User).where(User.display_name == "Aïcha Traoré"))
    assert aicha.username == "aicha.traore" and aicha.email is None
    membership = db.session.scalar(select(Membership).where(Membership.user_id == aicha.id))
    assert (
        membership.role == "reader"
        and membership.organisation.name == "Centre social"
        and membership.function == "Habitante"
    )
    assert db.session.scalar(select(func.count()).select_from(User)) == before + 1  # Marc makes his own, if he wants
    assert sorted(db.session.scalars(select(OutboxMessage.recipient))) == ["fatou@example.org", "marc@example.org"]


def import_rows(client, space, text):
    """Preview then confirm an import; return (preview page, done page)."""
    page = preview(client, space, text).get_data(as_text=True)
    data = re.search(r'name="data" value="([^"]+)"', page).group(1)
    return page, post(client, f"/s/{space.slug}/members/import/confirm", {"data": data}).get_data(as_text=True)


def _table(page: str) -> str:
    return page[page.index("<table") : page.index("</table>")]


@pytest.fixture
def bob_elsewhere(app, db, make_user, make_space, make_member):
    """Bob, whose address only admins see, shares a space with Ines; Ines runs her own space alone."""
    bob = make_user("bob", display_name="Robert Martin", email="bob@example.org")
    ines = make_user("ines", display_name="Inès")
    shared, own = make_space("quartier"), make_space("jardin")
    make_member(shared, bob, "member")
    make_member(shared, ines, "member")
    make_member(own, ines, "admin")
    client = app.test_client()
    login(client, "ines")
    return bob, own, client


def test_the_import_preview_and_result_say_nothing_of_who_has_an_account(app, db, bob_elsewhere):
    bob, own, ines = bob_elsewhere
    known_preview, known_done = import_rows(ines, own, "display_name,email\nBob,bob@example.org\n")
    unknown_preview, unknown_done = import_rows(ines, own, "display_name,email\nBob,nobody@example.org\n")
    assert "Robert Martin" not in known_preview + known_done
    assert _table(known_preview).replace("bob@", "nobody@") == _table(unknown_preview)
    main = lambda page: page[page.index("<main") : page.index("</main>")]  # noqa: E731
    assert main(known_done).replace("bob@", "nobody@") == main(unknown_done)
    members = ines.get(f"/s/{own.slug}/members/manage/").get_data(as_text=True)
    assert "Bob, invitation envoyée à bob@example.org" in members and "Robert Martin" not in members


def invitation_link(db, address: str) -> str:
    body = db.session.scalar(
        select(OutboxMessage.body).where(OutboxMessage.recipient == address).order_by(OutboxMessage.id.desc())
    )
    return re.search(r"https?://[^/\s]+(/join/\S+)", body).group(1)


def membership_of(db, space, user):
    db.session.expire_all()
    return db.session.scalar(select(Membership).where(Membership.space_id == space.id, Membership.user_id == user.id))


def test_an_imported_account_joins_only_when_its_owner_accepts(app, db, bob_elsewhere):
    bob, own, ines = bob_elsewhere
    import_rows(
        ines, own, "display_name,email,organisation,function,role\nBob,bob@example.org,Régie,Jardinier,reader\n"
    )
    assert membership_of(db, own, bob) is None
    assert ines.get(f"/s/{own.slug}/members/").get_data(as_text=True).count("Robert Martin") == 0
    link = invitation_link(db, "bob@example.org")
    bob_client = app.test_client()
    login(bob_client, "bob")
    page = bob_client.get(link).get_data(as_text=True)
    assert "Rejoindre l'espace" in page and "Refuser l'invitation" in page
    assert membership_of(db, own, bob) is None  # opening the link is not saying yes
    assert post(bob_client, link).status_code == 302
    joined = membership_of(db, own, bob)
    assert joined.role == "reader" and joined.organisation.name == "Régie" and joined.function == "Jardinier"
    assert bob_client.get(link).status_code == 410  # single use


def test_declining_an_imported_invitation_leaves_the_person_out(app, db, bob_elsewhere):
    bob, own, ines = bob_elsewhere
    import_rows(ines, own, "display_name,email\nBob,bob@example.org\n")
    link = invitation_link(db, "bob@example.org")
    bob_client = app.test_client()
    login(bob_client, "bob")
    declined = post(bob_client, link + "/decline")
    assert declined.status_code == 200 and "Vous avez refusé l'invitation" in declined.get_data(as_text=True)
    assert membership_of(db, own, bob) is None
    assert post(bob_client, link).status_code == 410 and membership_of(db, own, bob) is None
    assert "invitation envoyée à bob@example.org" not in ines.get(f"/s/{own.slug}/members/manage/").get_data(
        as_text=True
    )


def test_someone_without_an_account_makes_one_from_the_mailed_invitation(app, db, bob_elsewhere):
    _bob, own, ines = bob_elsewhere
    import_rows(ines, own, "display_name,email\nNadia Benali,nadia@example.org\n")
    link = invitation_link(db, "nadia@example.org")
    visitor = app.test_client()
    form = visitor.get(link).get_data(as_text=True)
    assert 'value="Nadia Benali"' in form and 'value="nadia@example.org"' in form
    response = post(
        visitor,
        link,
        {
            "username": "nadia.b",
            "display_name": "Nadia Benali",
            "email": "nadia@example.org",
            "password": "un jardin sur le toit",
            "confirm": "un jardin sur le toit",
        },
    )
    assert response.status_code == 302
    nadia = db.session.scalar(select(User).where(User.username_key == "nadia.b"))
    assert membership_of(db, own, nadia).role == "member"


@pytest.mark.parametrize(
    "text, encoding, message",
    [
        ("display_name,role\nÉlodie,member\n", "latin-1", "UTF-8"),
        ("nom,courriel\nÉlodie,e@example.org\n", "utf-8", "Colonnes attendues"),
        ("display_name\n", "utf-8", "aucune personne"),
        ("display_name,role\nÉlodie,member\nÉlodie,member\n", "utf-8", "ligne en double"),
        ("display_name,role\nÉlodie,owner\n", "utf-8", "rôle inconnu"),
        ("display_name,email\nÉlodie,pas-une-adresse\n", "utf-8", "pas valide"),
        ("display_name\n" + "".join(f"Personne {n}\n" for n in range(501)), "utf-8", "plus de 500 lignes"),
    ],
)
def test_bad_import_files_say_why_and_write_nothing(directory, db, text, encoding, message):
    space, fatou, clients = directory
    before = db.session.scalar(select(func.count()).select_from(User))
    response = preview(clients["admin"], space, text, encoding)
    assert response.status_code in (400, 422)
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_confirming_a_file_with_errors_writes_nothing(directory, db):
    space, fatou, clients = directory
    import base64

    data = base64.b64encode(b"display_name,role\nBon,member\nMauvais,owner\n").decode()
    before = db.session.scalar(select(func.count()).select_from(User))
    response = post(clients["admin"], f"/s/{space.slug}/members/import/confirm", {"data": data})
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    assert post(clients["member"], f"/s/{space.slug}/members/import/confirm", {"data": data}).status_code == 403


def test_directory_query_count_does_not_grow_with_members(app, directory, db, make_user, make_member):
    space, fatou, clients = directory

    def queries():
        with count_queries(db.engine) as statements:
            assert clients["member"].get(f"/s/{space.slug}/members/").status_code == 200
        return len(statements)

    small = queries()
    with app.app_context():
        from agora.auth.services import create_user
        from agora.extensions import db as flask_db
        from agora.spaces.services import add_member

        space_obj = flask_db.session.get(Space, space.id)
        org = flask_db.session.scalar(select(Organisation))
        for n in range(60):
            member = add_member(
                space_obj, create_user(f"habitant{n}", None, display_name=f"Habitant {n}"), "member", actor=None
            )
            member.organisation_id = org.id
        flask_db.session.commit()
    assert queries() == small and small <= 8


@pytest.mark.parametrize("breaker", ["\r", "\n", "\r\n", "\u2028", "\u2029", "\x85", "\x0b", "\x0c"])
def test_line_breaks_in_any_field_cannot_forge_a_card(app, directory, db, breaker):
    """Every form of line break stays inside its property: as many cards as members, values round-trip."""
    space, fatou, clients = directory
    forged = breaker.join(
        [
            "Bonjour",
            "END:VCARD",
            "BEGIN:VCARD",
            "VERSION:4.0",
            "FN:Faux contact",
            "TEL:+33600000000",
            "END:VCARD",
            "BEGIN:VCARD",
            "VERSION:4.0",
            "FN:suite",
        ]
    )
    user = db.session.get(User, fatou.id)
    user.presentation = forged
    user.display_name = f"Fatou{breaker}END:VCARD"
    user.privacy = {"presentation": "members", "organisation": "members", "function": "members"}
    m = db.session.scalar(select(Membership).where(Membership.user_id == fatou.id))
    m.function = f"Encadrante{breaker}EMAIL:faux@example.org"
    db.session.commit()
    text = clients["member"].get(f"/s/{space.slug}/members/directory.vcf").data.decode("utf-8")
    cards = list(vobject.readComponents(text))
    members = db.session.scalar(select(func.count()).select_from(Membership).where(Membership.space_id == space.id))
    assert len(cards) == members == 4
    assert [c.fn.value for c in cards].count("Faux contact") == 0
    card = next(c for c in cards if c.uid.value == f"urn:agora:user:{fatou.id}")
    assert card.note.value == forged.replace("\r\n", "\n").replace(breaker, "\n")
    assert card.fn.value == "Fatou\nEND:VCARD"
    assert card.title.value == "Encadrante\nEMAIL:faux@example.org"
    assert not hasattr(card, "email") and not hasattr(card, "tel")
