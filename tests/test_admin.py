"""The hosting admin console: spaces, accounts, audit log."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from agora.auth.models import AuditEntry, User
from agora.spaces.models import Activity, Membership, NewsItem, Space
from tests.conftest import login, post


@pytest.fixture
def admin_client(app, make_user):
    make_user("hebergeur", is_site_admin=True, display_name="Hébergeur")
    client = app.test_client()
    login(client, "hebergeur")
    return client


def test_console_is_for_site_admins_only(app, member_client):
    client, _space, _user = member_client("admin")
    assert client.get("/admin/").status_code == 403
    assert post(client, "/admin/spaces/new", {"name": "X", "slug": "x-y", "quota_mb": "10"}).status_code == 403
    assert app.test_client().get("/admin/").status_code == 302


def test_admin_creates_a_space_with_its_first_admin(admin_client, make_user, db):
    make_user("nadia")
    response = post(
        admin_client,
        "/admin/spaces/new",
        {"name": "Conseil citoyen des Tilleuls", "slug": "conseil-tilleuls", "quota_mb": "500", "admin": "Nadia"},
    )
    assert response.status_code == 302
    space = db.session.scalar(select(Space).where(Space.slug == "conseil-tilleuls"))
    assert space.quota_mb == 500
    admins = db.session.scalars(select(User.username).join(Membership).where(Membership.space_id == space.id)).all()
    assert admins == ["nadia"]
    page = admin_client.get("/admin/").get_data(as_text=True)
    assert "Conseil citoyen des Tilleuls" in page and "/s/conseil-tilleuls/" in page


@pytest.mark.parametrize(
    "slug, status, message",
    [
        ("admin", 400, "choisissez-en une autre. Essayez « admin-2 »"),
        ("login", 400, "réservée"),
        ("Avec Espace", 400, "lettres minuscules"),
        ("Avec Espace", 400, "Essayez « avec-espace »"),
        ("été", 400, "lettres minuscules"),
        ("Érables", 400, "Essayez « erables »"),
        ("deja-pris", 409, "Essayez « deja-pris-2 »"),
    ],
)
def test_bad_or_taken_slugs_are_refused(admin_client, make_space, db, slug, status, message):
    make_space("deja-pris")
    response = post(admin_client, "/admin/spaces/new", {"name": "Nouveau", "slug": slug, "quota_mb": "100"})
    assert response.status_code == status and message in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(Space)) == 1


def test_unknown_first_admin_is_refused(admin_client, db):
    response = post(
        admin_client,
        "/admin/spaces/new",
        {"name": "Nouveau", "slug": "nouveau", "quota_mb": "100", "admin": "personne"},
    )
    assert response.status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Space)) == 0


def test_admin_does_not_read_content_without_a_membership_and_self_grant_is_audited(admin_client, make_space, db):
    space = make_space("gup")
    assert admin_client.get("/s/gup/").status_code == 404
    assert post(admin_client, f"/admin/spaces/{space.id}/join", {"role": "reader"}).status_code == 302
    assert admin_client.get("/s/gup/").status_code == 200
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "admin.self_grant")).one()
    assert entry.space_slug == "gup" and entry.target == "hebergeur"


def test_archive_and_restore(admin_client, member_client, db):
    client, space, _user = member_client("member")
    assert post(admin_client, f"/admin/spaces/{space.id}/archive").status_code == 302
    archived = client.get(f"/s/{space.slug}/")
    assert archived.status_code == 410 and "est archivé" in archived.get_data(as_text=True)
    assert post(admin_client, f"/admin/spaces/{space.id}/restore").status_code == 302
    assert client.get(f"/s/{space.slug}/").status_code == 200
    assert {"space.archived", "space.restored"} <= set(db.session.scalars(select(AuditEntry.action)))


def test_delete_needs_the_slug_typed_back_then_removes_rows_and_files(app, admin_client, member_client, db):
    client, space, _user = member_client("admin")
    post(client, f"/s/{space.slug}/news/new", {"title": "À effacer", "body": "x"})
    files = Path(app.instance_path) / "files" / str(space.id)
    files.mkdir(parents=True)
    (files / "compte-rendu.pdf").write_bytes(b"%PDF-1.4")

    response = post(admin_client, f"/admin/spaces/{space.id}/delete", {"delete-confirmation": "autre-chose"})
    assert response.status_code == 400 and db.session.get(Space, space.id) is not None and files.exists()

    response = post(admin_client, f"/admin/spaces/{space.id}/delete", {"delete-confirmation": space.slug})
    assert response.status_code == 302
    assert db.session.get(Space, space.id) is None
    for model in (Membership, NewsItem, Activity):
        assert db.session.scalar(select(func.count()).select_from(model)) == 0
    assert not files.exists()
    assert db.session.scalar(select(AuditEntry.space_slug).where(AuditEntry.action == "space.deleted")) == space.slug


def test_disable_ends_sessions_and_enable_restores(app, admin_client, member_client, db):
    client, _space, user = member_client("member")
    assert post(admin_client, f"/admin/users/{user.id}/disable").status_code == 302
    assert client.get("/").status_code == 302
    assert login(app.test_client(), user.username).status_code == 401
    assert post(admin_client, f"/admin/users/{user.id}/enable").status_code == 302
    assert login(app.test_client(), user.username).status_code == 302
    assert {"account.disabled", "account.enabled"} <= set(db.session.scalars(select(AuditEntry.action)))


def test_admin_cannot_disable_their_own_account(admin_client, db):
    me = db.session.scalar(select(User).where(User.username == "hebergeur"))
    response = post(admin_client, f"/admin/users/{me.id}/disable")
    assert response.status_code == 302
    assert "propre compte" in admin_client.get(response.location).get_data(as_text=True)
    db.session.expire_all()
    assert not me.is_disabled and admin_client.get("/admin/").status_code == 200
    assert (
        db.session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "account.disabled"))
        == 0
    )


def test_admin_reset_link_lets_the_person_choose_a_new_password(app, admin_client, make_user):
    import re

    user = make_user("oublieux")
    response = post(admin_client, f"/admin/users/{user.id}/reset")
    link = re.search(
        r"http://localhost(/setup/[\w-]+)", admin_client.get(response.location).get_data(as_text=True)
    ).group(1)
    person = app.test_client()
    assert (
        post(person, link, {"password": "nouvelle phrase secrete", "confirm": "nouvelle phrase secrete"}).status_code
        == 302
    )
    assert login(app.test_client(), "oublieux", "nouvelle phrase secrete").status_code == 302


def test_users_list_search_and_audit_log_pages(admin_client, make_user):
    make_user("zoe.martin", display_name="Zoé Martin")
    make_user("yann")
    page = admin_client.get("/admin/users/?q=zoé").get_data(as_text=True)
    assert "Zoé Martin" in page and "yann" not in page
    log = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert "Connexion" in log and "hebergeur" in log and "login.success" not in log


def test_the_audit_log_speaks_french_and_filters_by_kind_person_and_space(admin_client, make_user, make_space):
    space = make_space("conseil")
    make_user("nadia")
    appointed = post(
        admin_client, f"/admin/spaces/{space.id}/appoint", {"appoint-username": "nadia", "appoint-role": "member"}
    )
    assert appointed.status_code == 302
    page = admin_client.get("/admin/audit/").get_data(as_text=True)
    assert "Membre ajouté" in page and "rôle : membre" in page
    assert "member.added" not in page.split("<tbody>")[1] and "role=member" not in page

    members = admin_client.get("/admin/audit/?group=members").get_data(as_text=True)
    assert "Membre ajouté" in members and "Connexion" not in members.split("<tbody>")[1]
    logins = admin_client.get("/admin/audit/?group=logins").get_data(as_text=True).split("<tbody>")[1]
    assert "Connexion" in logins and "Membre ajouté" not in logins
    assert "Membre ajouté" in admin_client.get("/admin/audit/?space=conseil").get_data(as_text=True)
    assert "Aucune action ne correspond" in admin_client.get("/admin/audit/?space=ailleurs").get_data(as_text=True)
    by_nadia = admin_client.get("/admin/audit/?who=NADIA").get_data(as_text=True).split("<tbody>")[1]
    assert "Aucune action ne correspond" in by_nadia
    assert "Membre ajouté" in admin_client.get("/admin/audit/?who=hebergeur&group=members").get_data(as_text=True)
    # An unknown group shows everything rather than nothing, and says nothing is filtered.
    assert "Membre ajouté" in admin_client.get("/admin/audit/?group=bidon").get_data(as_text=True)


def _audit_codes_written() -> set[str]:
    """Every action code the source passes to the audit log, read with ast: literal first arguments of
    audit(...) and _logins_ended(...), the literal branches of an `action = ... if ... else ...`, and
    the password.<purpose> codes for each purpose a token is issued with."""
    import ast

    codes, purposes = set(), set()
    for path in Path("agora").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                literal = node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
                if name == "audit" and literal:
                    codes.add(node.args[0].value)
                elif name == "_logins_ended" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    codes.add(node.args[1].value)
                elif name == "issue_token" and len(node.args) > 1 and isinstance(node.args[1], ast.Constant):
                    purposes.add(node.args[1].value)
            elif isinstance(node, ast.Assign) and isinstance(node.value, ast.IfExp):
                if any(isinstance(t, ast.Name) and t.id == "action" for t in node.targets):
                    codes.update(
                        branch.value
                        for branch in (node.value.body, node.value.orelse)
                        if isinstance(branch, ast.Constant) and isinstance(branch.value, str)
                    )
    return codes | {f"password.{purpose}" for purpose in purposes}


def test_every_action_written_to_the_audit_log_has_words_and_every_word_an_action():
    from agora.auth import journal

    written = _audit_codes_written()
    assert {"login.success", "member.added", "account.password_link", "password.setup"} <= written
    assert written - set(journal.LABELS) == set(), "audit codes without words in agora/auth/journal.py"
    assert set(journal.LABELS) - written == set(), "words in agora/auth/journal.py for codes nobody writes"


def test_the_console_creates_an_account_with_a_space_and_hands_a_setup_link(admin_client, make_space, db):
    space = make_space("conseil", "Conseil citoyen")
    form = admin_client.get("/admin/users/new").get_data(as_text=True)
    assert "Créer un compte" in form and "Conseil" in form
    response = post(
        admin_client,
        "/admin/users/new",
        {
            "username": "moussa.kone",
            "display_name": "Moussa Koné",
            "email": "",
            "space": str(space.id),
            "role": "member",
        },
    )
    assert response.status_code == 302
    user = db.session.scalar(select(User).where(User.username == "moussa.kone"))
    assert user.display_name == "Moussa Koné" and user.password_hash is None and not user.is_site_admin
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "member"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "account.created"))
    assert entry.target == "moussa.kone" and entry.details == {"site_admin": False, "via": "console"}
    shown = admin_client.get(response.location).get_data(as_text=True)
    assert "Compte créé pour Moussa Koné" in shown and "/setup/" in shown and "<svg" in shown


def test_the_console_shows_every_account_error_at_once_and_creates_nothing(admin_client, make_user, db):
    make_user("moussa.kone")
    before = db.session.scalar(select(func.count()).select_from(User))
    response = post(
        admin_client,
        "/admin/users/new",
        {"username": "Moussa Koné", "display_name": "", "email": "pas-une-adresse", "space": "0", "role": "member"},
    )
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "Essayez « moussa.kone2 »" in page and "Indiquez le nom de la personne." in page
    assert "adresse" in page.lower()
    assert db.session.scalar(select(func.count()).select_from(User)) == before
    taken = post(
        admin_client,
        "/admin/users/new",
        {"username": "moussa.kone", "display_name": "M", "space": "0", "role": "member"},
    )
    assert taken.status_code == 409 and "déjà pris" in taken.get_data(as_text=True)
    assert (
        post(
            admin_client,
            "/admin/users/new",
            {"username": "zz.top", "display_name": "Z", "space": "999999", "role": "member"},
        ).status_code
        == 400
    )
    assert db.session.scalar(select(func.count()).select_from(User)) == before


def test_the_console_can_create_a_hosting_admin(admin_client, db):
    post(
        admin_client,
        "/admin/users/new",
        {"username": "claire", "display_name": "Claire", "space": "0", "role": "member", "site_admin": "y"},
    )
    assert db.session.scalar(select(User.is_site_admin).where(User.username == "claire")) is True
