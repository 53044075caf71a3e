"""Spaces: roles, members, invitations, accounts made for someone, news, settings, dashboard."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from agora.auth.models import AuditEntry, User, UserToken
from agora.core.time import utcnow
from agora.spaces.models import Activity, Invitation, Membership, NewsItem, Space
from tests.conftest import PASSWORD, login, post
from tests.conftest import csrf_token as csrf


def audit_actions(db) -> list[str]:
    return list(db.session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def make_news(db, space, title="Réunion mardi") -> int:
    news = NewsItem(space_id=space.id, title=title, body="Salle du centre social")
    db.session.add(news)
    db.session.commit()
    return news.id


# role × action → allowed. Each action is (method, path template, form data, what success is).
ACTIONS = {
    "read home": ("GET", "/s/{slug}/", {}, 200),
    "write news": ("POST", "/s/{slug}/news/new", {"title": "Fête de quartier", "body": "Samedi"}, 302),
    "edit news": ("POST", "/s/{slug}/news/{news}/edit", {"title": "Nouveau titre"}, 302),
    "delete news": ("POST", "/s/{slug}/news/{news}/delete", {}, 302),
    "open settings": ("GET", "/s/{slug}/settings/", {}, 200),
    "change settings": (
        "POST",
        "/s/{slug}/settings/",
        {"name": "Nouveau nom", "colour": "#1e6b33", "modules": ["forum"]},
        302,
    ),
    "manage members": ("GET", "/s/{slug}/members/manage/", {}, 200),
    "invite": (
        "POST",
        "/s/{slug}/members/manage/invitations/",
        {"inv-role": "member", "inv-max_uses": "3", "inv-days": "7"},
        302,
    ),
    "create account": (
        "POST",
        "/s/{slug}/members/manage/accounts/",
        {"acc-username": "nouveau.venu", "acc-display_name": "Nouveau", "acc-role": "reader"},
        302,
    ),
}
ALLOWED = {
    "admin": set(ACTIONS),
    "member": {"read home"},
    "reader": {"read home"},
}


@pytest.mark.parametrize("role", ["admin", "member", "reader"])
@pytest.mark.parametrize("action", list(ACTIONS))
def test_role_matrix(member_client, db, role, action):
    client, space, user = member_client(role)
    news_id = make_news(db, space)
    method, path, data, success = ACTIONS[action]
    url = path.format(slug=space.slug, news=news_id)
    response = client.get(url) if method == "GET" else post(client, url, data)
    if action in ALLOWED[role]:
        assert response.status_code == success, response.get_data(as_text=True)[:500]
    else:
        assert response.status_code == 403
        # A refused write leaves the space as it was.
        assert db.session.get(Space, space.id).name == space.name
        assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 1
        assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_stranger_gets_404_and_anonymous_goes_to_login(app, member_client, make_space):
    client, _space, _user = member_client("admin")
    other = make_space()
    assert client.get(f"/s/{other.slug}/").status_code == 404
    assert client.get("/s/does-not-exist/").status_code == 404
    response = app.test_client().get(f"/s/{other.slug}/")
    assert response.status_code == 302 and response.location.startswith("/login")


def test_admin_changes_a_role_and_it_is_audited(member_client, make_user, make_member, db):
    client, space, _admin = member_client("admin")
    habitant = make_user("karim")
    membership = make_member(space, habitant, "reader")
    response = post(client, f"/s/{space.slug}/members/manage/{membership.id}/role", {"role": "member"})
    assert response.status_code == 302
    assert db.session.get(Membership, membership.id).role == "member"
    entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "member.role_changed")).one()
    assert entry.details == {"from": "reader", "to": "member"} and entry.target == "karim"


def test_a_role_outside_the_three_is_refused(member_client, make_user, make_member, db):
    client, space, _admin = member_client("admin")
    membership = make_member(space, make_user(), "reader")
    response = post(client, f"/s/{space.slug}/members/manage/{membership.id}/role", {"role": "owner"})
    assert response.status_code == 400
    assert db.session.get(Membership, membership.id).role == "reader"


def test_the_last_admin_can_be_neither_demoted_nor_removed(member_client, db):
    client, space, admin = member_client("admin")
    mine = db.session.scalar(select(Membership).where(Membership.user_id == admin.id))
    response = post(client, f"/s/{space.slug}/members/manage/{mine.id}/role", {"role": "member"})
    assert response.status_code == 409
    assert "au moins un administrateur" in response.get_data(as_text=True)
    assert post(client, f"/s/{space.slug}/members/manage/{mine.id}/remove").status_code == 409
    assert db.session.get(Membership, mine.id).role == "admin"


def test_admin_removes_a_member_who_then_gets_404(app, member_client, make_user, make_member, db):
    client, space, _admin = member_client("admin")
    gone = make_user("partant")
    membership = make_member(space, gone, "member")
    gone_client = app.test_client()
    login(gone_client, "partant")
    assert gone_client.get(f"/s/{space.slug}/").status_code == 200
    assert post(client, f"/s/{space.slug}/members/manage/{membership.id}/remove").status_code == 302
    assert db.session.get(Membership, membership.id) is None
    assert gone_client.get(f"/s/{space.slug}/").status_code == 404


def create_invitation(client, space, **fields) -> str:
    data = {"inv-role": "member", "inv-max_uses": "1", "inv-days": "14", "inv-label": "Affiche"}
    data.update({f"inv-{k}": str(v) for k, v in fields.items()})
    response = post(client, f"/s/{space.slug}/members/manage/invitations/", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:300]
    page = client.get(response.location).get_data(as_text=True)
    assert "<svg" in page  # the QR code
    return re.search(r"http://localhost(/join/[\w-]+)", page).group(1)


def signup(client, link, username, **extra):
    data = {"username": username, "display_name": username.title(), "password": PASSWORD, "confirm": PASSWORD}
    data.update(extra)
    return post(client, link, data)


def test_habitant_without_email_joins_from_an_invitation(app, member_client, db):
    admin_client, space, _admin = member_client("admin")
    link = create_invitation(admin_client, space, role="reader")
    newcomer = app.test_client()
    page = newcomer.get(link).get_data(as_text=True)
    assert space.name in page and "Pas besoin d'adresse e-mail" in page
    response = signup(newcomer, link, "fatou")
    assert response.status_code == 302 and response.location == f"/s/{space.slug}/"
    user = db.session.scalar(select(User).where(User.username == "fatou"))
    assert user.email is None
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "reader"
    assert newcomer.get(f"/s/{space.slug}/").status_code == 200
    assert {"invitation.created", "account.created", "invitation.used"} <= set(audit_actions(db))


def test_invitation_stops_after_its_maximum_uses(app, member_client, db):
    admin_client, space, _admin = member_client("admin")
    link = create_invitation(admin_client, space, max_uses=2)
    assert signup(app.test_client(), link, "premier").status_code == 302
    assert signup(app.test_client(), link, "deuxieme").status_code == 302
    third = app.test_client()
    assert third.get(link).status_code == 410
    assert signup(third, link, "troisieme").status_code == 410
    assert db.session.scalar(select(User).where(User.username == "troisieme")) is None
    assert db.session.scalar(select(Invitation.uses)) == 2


def test_expired_or_revoked_invitation_is_refused(app, member_client, db):
    admin_client, space, _admin = member_client("admin")
    link = create_invitation(admin_client, space)
    invitation = db.session.scalar(select(Invitation))
    invitation.expires_at = utcnow() - timedelta(minutes=1)
    db.session.commit()
    response = app.test_client().get(link)
    assert response.status_code == 410 and "plus valable" in response.get_data(as_text=True)

    link = create_invitation(admin_client, space)
    second = db.session.scalars(select(Invitation).order_by(Invitation.id.desc())).first()
    assert post(admin_client, f"/s/{space.slug}/members/manage/invitations/{second.id}/revoke").status_code == 302
    assert signup(app.test_client(), link, "tardif").status_code == 410
    assert app.test_client().get("/join/nimporte-quoi").status_code == 404


def test_logged_in_person_joins_with_the_invitations_role(member_client, make_user, app, db):
    admin_client, space, _admin = member_client("admin")
    link = create_invitation(admin_client, space, role="admin")
    make_user("partenaire")
    client = app.test_client()
    login(client, "partenaire")
    assert post(client, link).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "partenaire"))
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "admin"


def test_bad_invitation_settings_are_refused(member_client, db):
    client, space, _admin = member_client("admin")
    for data in (
        {"inv-role": "boss", "inv-max_uses": "1", "inv-days": "7"},
        {"inv-role": "member", "inv-max_uses": "0", "inv-days": "7"},
        {"inv-role": "member", "inv-max_uses": "1", "inv-days": "9999"},
    ):
        assert post(client, f"/s/{space.slug}/members/manage/invitations/", data).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(Invitation)) == 0


def test_duplicate_username_at_signup_is_refused_whatever_the_case(app, member_client, make_user, db):
    admin_client, space, _admin = member_client("admin")
    make_user("Moussa")
    link = create_invitation(admin_client, space)
    response = signup(app.test_client(), link, "moussa")
    assert response.status_code == 409 and "déjà pris" in response.get_data(as_text=True)
    assert db.session.scalar(select(Invitation.uses)) == 0


def test_mediator_creates_an_account_and_hands_over_a_setup_link(app, member_client, db):
    client, space, _admin = member_client("admin")
    response = post(
        client,
        f"/s/{space.slug}/members/manage/accounts/",
        {"acc-username": "jeanne.p", "acc-display_name": "Jeanne", "acc-role": "reader"},
    )
    assert response.status_code == 302
    page = client.get(response.location).get_data(as_text=True)
    link = re.search(r"http://localhost(/setup/[\w-]+)", page).group(1)
    assert "<svg" in page
    person = app.test_client()
    response = post(person, link, {"password": "les tilleuls en fleur", "confirm": "les tilleuls en fleur"})
    assert response.status_code == 302
    assert person.get(f"/s/{space.slug}/").status_code == 200
    assert person.get(link).status_code == 404  # single use
    # Once the account is live and has an address, its owner resets the password themself.
    membership = db.session.scalar(select(Membership).join(User).where(User.username == "jeanne.p"))
    membership.user.email = "jeanne@example.org"
    db.session.commit()
    assert post(client, f"/s/{space.slug}/members/manage/{membership.id}/setup-link").status_code == 403


def test_new_setup_link_replaces_the_old_one(member_client, db):
    client, space, _admin = member_client("admin")
    response = post(
        client,
        f"/s/{space.slug}/members/manage/accounts/",
        {"acc-username": "omar", "acc-display_name": "Omar", "acc-role": "member"},
    )
    first = re.search(r"/setup/[\w-]+", client.get(response.location).get_data(as_text=True)).group(0)
    membership = db.session.scalar(select(Membership).join(User).where(User.username == "omar"))
    response = post(client, f"/s/{space.slug}/members/manage/{membership.id}/setup-link")
    second = re.search(r"/setup/[\w-]+", client.get(response.location).get_data(as_text=True)).group(0)
    assert first != second
    assert client.get(first).status_code == 404
    assert db.session.scalar(select(func.count()).select_from(UserToken).where(UserToken.used_at.is_(None))) == 1


def test_settings_change_name_colour_and_modules(member_client, db):
    client, space, _admin = member_client("admin")
    response = post(
        client,
        f"/s/{space.slug}/settings/",
        {"name": "Conseil citoyen", "description": "Le conseil", "colour": "#A84300", "modules": ["forum", "agenda"]},
    )
    assert response.status_code == 302
    saved = db.session.get(Space, space.id)
    assert (saved.name, saved.colour, saved.modules) == ("Conseil citoyen", "#a84300", ["forum", "agenda"])


def test_settings_refuse_bad_colour_and_unknown_module(member_client, db):
    client, space, _admin = member_client("admin")
    for colour in ("red", "#112233", ""):
        response = post(client, f"/s/{space.slug}/settings/", {"name": "X", "colour": colour, "modules": ["forum"]})
        assert response.status_code == 400
        assert "Choisissez une des couleurs proposées." in response.get_data(as_text=True)
    assert (
        post(
            client, f"/s/{space.slug}/settings/", {"name": "X", "colour": "#1e6b33", "modules": ["casino"]}
        ).status_code
        == 400
    )
    saved = db.session.get(Space, space.id)
    assert (saved.name, saved.colour) == (space.name, "#0b5cad")


def contrast(colour: str, background: str) -> float:
    """WCAG 2.1 contrast ratio of two #rrggbb colours."""

    def luminance(value: str) -> float:
        channels = [int(value[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        r, g, b = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * r + 0.7152 * g + 0.0722 * b

    light, dark = sorted((luminance(colour), luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_every_space_colour_is_readable_next_to_white_and_the_page():
    from agora.spaces.models import SPACE_COLOURS

    assert contrast("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)  # the known AA limit grey
    assert 6 <= len(SPACE_COLOURS) <= 10
    paper, wash = "#ffffff", "#f3f5f8"  # --paper and --wash in static/agora.css
    assert {c: min(contrast(c, paper), contrast(c, wash)) >= 4.5 for c in SPACE_COLOURS} == dict.fromkeys(
        SPACE_COLOURS, True
    )
    names = [str(n) for n in SPACE_COLOURS.values()]
    assert len(set(names)) == len(names) and len(set(SPACE_COLOURS)) == len(SPACE_COLOURS)


def test_demo_spaces_use_colours_of_the_list():
    from agora.demo import SPACES
    from agora.spaces.models import SPACE_COLOURS

    assert [spec["colour"] for spec in SPACES if spec["colour"] not in SPACE_COLOURS] == []


def colour_radios(page: str) -> list[tuple[str, str, bool]]:
    """(value, written name, checked) of each colour the settings page offers."""
    return [
        (value, name, "checked" in attrs)
        for attrs, value, name in re.findall(
            r'<label class="swatch-choice"[^>]*><input([^>]*value="([^"]+)"[^>]*)>.*?<span>([^<]+)</span></label>', page
        )
    ]


def test_settings_offer_colours_by_name_with_the_current_one_picked(member_client, db):
    client, space, _admin = member_client("admin")
    page = client.get(f"/s/{space.slug}/settings/").get_data(as_text=True)
    radios = colour_radios(page)
    assert radios[:3] == [("#0b5cad", "Bleu", True), ("#006b75", "Bleu-vert", False), ("#1e6b33", "Vert", False)]
    assert len(radios) == 8 and [r for r in radios if r[2]] == [("#0b5cad", "Bleu", True)]
    assert "Couleur actuelle" not in page
    assert "<legend>Couleur</legend>" in page and 'name="colour" type="radio"' in page


def test_a_colour_from_before_the_list_is_kept_when_saving(member_client, db):
    client, space, _admin = member_client("admin")
    db.session.get(Space, space.id).colour = "#AA3300"
    db.session.commit()
    radios = colour_radios(client.get(f"/s/{space.slug}/settings/").get_data(as_text=True))
    assert radios[-1] == ("#aa3300", "Couleur actuelle", True) and len(radios) == 9
    form = {"name": "Conseil renommé", "colour": "#aa3300", "modules": ["forum"]}
    assert post(client, f"/s/{space.slug}/settings/", form).status_code == 302
    assert (db.session.get(Space, space.id).name, db.session.get(Space, space.id).colour) == (
        "Conseil renommé",
        "#aa3300",
    )
    # Another colour off the list is still refused; once a listed one is picked, the old one is gone.
    assert post(client, f"/s/{space.slug}/settings/", {**form, "colour": "#445566"}).status_code == 400
    assert post(client, f"/s/{space.slug}/settings/", {**form, "colour": "#7a3e9d"}).status_code == 302
    assert post(client, f"/s/{space.slug}/settings/", form).status_code == 400
    assert db.session.get(Space, space.id).colour == "#7a3e9d"
    assert "Couleur actuelle" not in client.get(f"/s/{space.slug}/settings/").get_data(as_text=True)


def test_news_pinned_first_and_in_the_activity_feed(member_client, db):
    client, space, _admin = member_client("admin")
    post(client, f"/s/{space.slug}/news/new", {"title": "Ancienne nouvelle", "body": "texte"})
    post(client, f"/s/{space.slug}/news/new", {"title": "Plénière mardi", "body": "texte", "is_pinned": "y"})
    post(client, f"/s/{space.slug}/news/new", {"title": "Dernière nouvelle", "body": "texte"})
    page = client.get(f"/s/{space.slug}/").get_data(as_text=True)
    assert page.index("Plénière mardi") < page.index("Dernière nouvelle") < page.index("Ancienne nouvelle")
    assert db.session.scalar(select(func.count()).select_from(Activity).where(Activity.verb == "news")) == 3


def test_empty_news_title_is_refused(member_client, db):
    client, space, _admin = member_client("admin")
    assert post(client, f"/s/{space.slug}/news/new", {"title": "  ", "body": "x"}).status_code == 400
    assert db.session.scalar(select(func.count()).select_from(NewsItem)) == 0


def test_dashboard_counts_what_is_new_since_the_last_visit(
    app, member_client, make_user, make_member, db, frozen_clock
):
    admin_client, space, _admin = member_client("admin")
    reader = make_user("lectrice", display_name="Lectrice")
    make_member(space, reader, "reader")
    client = app.test_client()
    login(client, "lectrice")
    client.get(f"/s/{space.slug}/")  # a visit
    frozen_clock.advance(hours=1)
    post(admin_client, f"/s/{space.slug}/news/new", {"title": "Une", "body": "x"})
    post(admin_client, f"/s/{space.slug}/news/new", {"title": "Deux", "body": "x"})
    page = client.get("/").get_data(as_text=True)
    assert space.name in page and "2 nouveautés" in page
    frozen_clock.advance(hours=1)
    client.get(f"/s/{space.slug}/")
    assert "Rien de nouveau" in client.get("/").get_data(as_text=True)


def test_archived_space_tells_its_members_since_when_and_whom_to_ask_and_strangers_get_404(
    app, member_client, make_user, make_member, db
):
    client, space, admin = member_client("admin")
    reader = make_user("lecteur", display_name="Lecteur")
    make_member(space, reader, "reader")
    db.session.get(Space, space.id).archived_at = utcnow()
    db.session.commit()
    reader_client = app.test_client()
    login(reader_client, "lecteur")
    for who in (client, reader_client):
        for url in (f"/s/{space.slug}/", f"/s/{space.slug}/forum/"):
            response = who.get(url)
            page = response.get_data(as_text=True)
            assert response.status_code == 410
            assert f"« {space.name} » est archivé" in page
            assert re.search(rf"archivé depuis le \d{{1,2}} \w+\.? {utcnow().year} :", page), page
            assert "demandez à son administrateur" in page and admin.display_name in page
    assert space.name not in client.get("/").get_data(as_text=True)
    make_user("etranger")
    stranger = app.test_client()
    login(stranger, "etranger")
    assert stranger.get(f"/s/{space.slug}/").status_code == 404
    assert stranger.get(f"/s/{space.slug}/forum/").status_code == 404


def test_zero_uses_is_told_the_allowed_range(member_client, db):
    client, space, _admin = member_client("admin")
    response = post(
        client,
        f"/s/{space.slug}/members/manage/invitations/",
        {"inv-role": "member", "inv-max_uses": "0", "inv-days": "7"},
    )
    assert response.status_code == 400 and "Entre 1 et 1000." in response.get_data(as_text=True)


def test_a_habitant_without_email_who_forgot_their_password_gets_a_new_link_from_the_space_admin(
    app, member_client, make_user, make_member, make_space, db
):
    client, space, admin = member_client("admin")
    habitant = make_user("awa.k", display_name="Awa K.")
    make_member(space, habitant, "member")
    kept_away = {
        "with an address": make_user("marie", email="marie@example.org"),
        "admin elsewhere": make_user("paul"),
        "site admin": make_user("root2", is_site_admin=True),
    }
    make_member(make_space(), kept_away["admin elsewhere"], "admin")
    for person in kept_away.values():
        make_member(space, person, "member")
    awa_session = app.test_client()
    assert login(awa_session, "awa.k").status_code == 302
    manage = client.get(f"/s/{space.slug}/members/manage/").get_data(as_text=True)
    assert manage.count("Nouveau mot de passe (lien)") == 1
    membership = db.session.scalar(select(Membership).where(Membership.user_id == habitant.id))
    response = post(client, f"/s/{space.slug}/members/manage/{membership.id}/setup-link")
    assert response.status_code == 302
    link = re.search(r"http://localhost(/setup/[\w-]+)", client.get(response.location).get_data(as_text=True)).group(1)
    entry = db.session.scalar(select(AuditEntry).order_by(AuditEntry.id.desc()))
    assert (entry.action, entry.actor_id, entry.space_slug, entry.target) == (
        "account.password_link",
        admin.id,
        space.slug,
        "awa.k",
    )
    assert (
        post(app.test_client(), link, {"password": "le marché du samedi", "confirm": "le marché du samedi"}).status_code
        == 302
    )
    assert login(app.test_client(), "awa.k", "le marché du samedi").status_code == 302
    assert awa_session.get(f"/s/{space.slug}/").status_code != 200  # her old login ended with the new password
    for why, person in kept_away.items():
        target = db.session.scalar(
            select(Membership).where(Membership.user_id == person.id, Membership.space_id == space.id)
        )
        assert post(client, f"/s/{space.slug}/members/manage/{target.id}/setup-link").status_code == 403, why
    assert (
        db.session.scalar(
            select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "account.password_link")
        )
        == 1
    )


def test_the_join_form_shows_every_error_at_once_and_suggests_an_identifier(app, member_client, make_user, db):
    admin_client, space, _admin = member_client("admin")
    link = create_invitation(admin_client, space)
    newcomer = app.test_client()
    response = signup(newcomer, link, "Moussa Koné", password="court", confirm="autre", email="pas-une-adresse")
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Essayez « moussa.kone »" in page
    assert "au moins 10 caractères" in page
    assert "Les deux mots de passe sont différents." in page
    assert "Cette adresse e-mail n&#39;est pas valide." in page
    make_user("moussa.kone")
    before = db.session.scalar(select(func.count()).select_from(User))
    response = signup(newcomer, link, "moussa.kone")
    assert response.status_code == 409 and "Essayez « moussa.kone2 »" in response.get_data(as_text=True)
    assert db.session.scalar(select(func.count()).select_from(User)) == before  # nothing was written
    assert signup(newcomer, link, "moussa.kone2").status_code == 302


def test_a_new_member_is_welcomed_with_the_first_things_to_do_until_they_open_the_space(
    app, member_client, make_user, make_member, db
):
    _admin_client, space, _admin = member_client("admin")
    newcomer = make_user("nouvelle", display_name="Nouvelle")
    make_member(space, newcomer, "member")
    client = app.test_client()
    login(client, "nouvelle")
    page = client.get("/").get_data(as_text=True)
    assert f"Bienvenue dans « {space.name} » !" in page and "Nouveau pour vous" in page
    assert "Rien de nouveau" not in page
    welcome = page.split('id="welcome-heading"')[1].split("</section>")[0]
    assert "Trois choses à faire pour commencer" in welcome
    for link, words in (
        (f'href="/s/{space.slug}/members/me"', "Compléter votre profil"),
        (f'href="/s/{space.slug}/agenda/"', "Voir l'agenda de l'espace"),
        (f'href="/s/{space.slug}/forum/"', "Dire bonjour dans le forum"),
    ):
        assert link in welcome and words in welcome
    client.get(f"/s/{space.slug}/")
    page = client.get("/").get_data(as_text=True)
    assert "Bienvenue dans" not in page and "Rien de nouveau" in page


# The short code of a printed invitation ----------------------------------------------------

CODE_RE = re.compile(r'<p class="short-code" id="short-code">([A-Z0-9]{4}-[A-Z0-9]{4})</p>')


def create_invitation_with_code(client, space, **fields) -> tuple[str, str]:
    """Create an invitation through the form; return its long link and its short code as printed."""
    data = {"inv-role": "member", "inv-max_uses": "1", "inv-days": "14", "inv-label": "Affiche"}
    data.update({f"inv-{k}": str(v) for k, v in fields.items()})
    response = post(client, f"/s/{space.slug}/members/manage/invitations/", data)
    page = client.get(response.location).get_data(as_text=True)
    assert "<svg" in page and "http://localhost/join/<" in page  # the QR code, and where to type the code
    return re.search(r"http://localhost(/join/[\w-]+)", page).group(1), CODE_RE.search(page).group(1)


def type_code(client, code):
    return post(client, "/join/", {"code": code})


def test_a_printed_invitation_shows_a_short_code_without_look_alike_characters(member_client, db):
    from agora.spaces.services import CODE_ALPHABET

    admin_client, space, _admin = member_client("admin")
    codes = {create_invitation_with_code(admin_client, space)[1] for _ in range(6)}
    assert len(codes) == 6
    assert set("".join(codes).replace("-", "")) <= set(CODE_ALPHABET)
    assert not set(CODE_ALPHABET) & set("0O1IL") and len(CODE_ALPHABET) == 31
    stored = db.session.scalars(select(Invitation.code_hash)).all()
    assert len(set(stored)) == 6 and all(len(h) == 64 for h in stored)
    assert not any(code.replace("-", "") in h.upper() for h in stored for code in codes)  # kept hashed
    # Shown right after creation only, like the link.
    invitation = db.session.scalars(select(Invitation)).first()
    admin_client.get("/logout")
    login(admin_client, _admin.username)
    page = admin_client.get(f"/s/{space.slug}/members/manage/invitations/{invitation.id}").get_data(as_text=True)
    assert CODE_RE.search(page) is None


def test_the_login_page_leads_to_the_code_page(client):
    page = client.get("/login").get_data(as_text=True)
    assert "<a href=\"/join/\">J'ai un code d'invitation</a>" in page
    code_page = client.get("/join/").get_data(as_text=True)
    assert "<h1>J'ai un code d'invitation</h1>" in code_page and 'name="code"' in code_page


@pytest.mark.parametrize("typing", ["{code}", "{lower}", "{plain}", "  {a} {b} ", "{a} - {b}", "{a}–{b}", "{lowplain}"])
def test_the_code_is_accepted_however_it_is_typed_and_leads_to_the_join_form(app, member_client, db, typing):
    admin_client, space, _admin = member_client("admin")
    _link, code = create_invitation_with_code(admin_client, space, role="reader")
    a, b = code.split("-")
    typed = typing.format(code=code, lower=code.lower(), plain=a + b, a=a, b=b, lowplain=(a + b).lower())
    newcomer = app.test_client()
    response = type_code(newcomer, typed)
    assert response.status_code == 302 and response.location == f"/join/code/{a}{b}"
    page = newcomer.get(response.location)
    assert page.headers["Cache-Control"] == "no-store"
    assert "Pas besoin d'adresse e-mail" in page.get_data(as_text=True) and space.name in page.get_data(as_text=True)
    assert signup(newcomer, response.location, "awa").status_code == 302
    user = db.session.scalar(select(User).where(User.username == "awa"))
    assert db.session.scalar(select(Membership.role).where(Membership.user_id == user.id)) == "reader"
    assert db.session.scalar(select(Invitation.uses)) == 1


@pytest.mark.parametrize(
    "typed, message, status",
    [
        ("", "Tapez le code écrit sur votre invitation.", 400),
        ("ABCD-EFG", "Un code d'invitation a 8 lettres et chiffres, par exemple ABCD-EFGH", 400),
        ("ABCD-EFG0", "il n'y a jamais de 0, de O, de 1, de I ni de L", 400),
        ("ABCD-EFGH", "Ce code ne correspond à aucune invitation.", 404),
    ],
)
def test_a_wrong_code_gets_a_clear_message_and_changes_nothing(app, member_client, db, typed, message, status):
    admin_client, space, _admin = member_client("admin")
    _link, code = create_invitation_with_code(admin_client, space)
    typed = typed if typed != code else "ABCD-EFGJ"
    members = db.session.scalar(select(func.count()).select_from(Membership))
    response = type_code(app.test_client(), typed)
    assert response.status_code == status
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert db.session.scalar(select(Invitation.uses)) == 0
    assert db.session.scalar(select(func.count()).select_from(Membership)) == members
    assert db.session.scalar(select(func.count()).select_from(User)) == 1


def test_guessing_codes_locks_the_address_out_even_for_a_right_code(app, member_client, db):
    admin_client, space, _admin = member_client("admin")
    _link, code = create_invitation_with_code(admin_client, space)
    guesser = app.test_client()
    wrong = "ABCD-EFGH" if code != "ABCD-EFGH" else "ABCD-EFGJ"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert type_code(guesser, wrong).status_code == 404
    response = type_code(guesser, code)
    assert response.status_code == 429 and "patientez 15 minutes" in response.get_data(as_text=True)
    # The join address itself is a guess too: it does not bypass the lock.
    assert guesser.get(f"/join/code/{code.replace('-', '')}").status_code == 429
    actions = audit_actions(db)
    assert actions.count("invitation.code_refused") == 5 and "invitation.code_throttled" in actions
    assert db.session.scalar(select(Invitation.uses)) == 0


def test_mistyped_codes_on_a_shared_address_do_not_lock_its_logins(app, member_client, make_user, monkeypatch):
    """A social centre shares one address: a room's typos on codes must not keep its people out."""
    from tests.conftest import login

    monkeypatch.setitem(app.config, "LOGIN_MAX_ADDRESS_FAILURES", 3)
    admin_client, space, _admin = member_client("admin")
    _link, code = create_invitation_with_code(admin_client, space)
    room = app.test_client()
    wrong = "ABCD-EFGH" if code != "ABCD-EFGH" else "ABCD-EFGJ"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        type_code(room, wrong)
    assert type_code(room, code).status_code == 429
    make_user("amina.t")
    response = login(room, "amina.t")
    assert response.status_code == 302 and "/login" not in response.location


def test_a_wrong_code_in_the_join_address_shows_the_code_page(client):
    response = client.get("/join/code/ABCDEFGH")
    assert response.status_code == 404
    assert "Ce code ne correspond à aucune invitation." in response.get_data(as_text=True)


def test_an_expired_used_up_or_revoked_code_is_refused_like_the_link(app, member_client, db):
    admin_client, space, _admin = member_client("admin")
    link, code = create_invitation_with_code(admin_client, space)
    assert signup(app.test_client(), link, "premiere").status_code == 302  # the long link still works
    used_up = app.test_client()
    location = type_code(used_up, code).location
    assert used_up.get(location).status_code == 410
    assert signup(used_up, location, "seconde").status_code == 410
    assert "plus valable" in used_up.get(location).get_data(as_text=True)

    _link, code = create_invitation_with_code(admin_client, space, max_uses=5)
    db.session.scalars(select(Invitation).order_by(Invitation.id.desc())).first().expires_at = utcnow() - timedelta(
        minutes=1
    )
    db.session.commit()
    late = app.test_client()
    assert late.get(type_code(late, code).location).status_code == 410

    _link, code = create_invitation_with_code(admin_client, space, max_uses=5)
    newest = db.session.scalars(select(Invitation).order_by(Invitation.id.desc())).first()
    assert post(admin_client, f"/s/{space.slug}/members/manage/invitations/{newest.id}/revoke").status_code == 302
    revoked = app.test_client()
    assert signup(revoked, type_code(revoked, code).location, "tardive").status_code == 410
    assert db.session.scalar(select(User).where(User.username.in_(["seconde", "tardive"]))) is None


def test_the_code_of_one_space_joins_that_space_only(app, member_client, make_user, db):
    admin_a, space_a, _ = member_client("admin")
    admin_b, space_b, _ = member_client("admin")
    _link, code_a = create_invitation_with_code(admin_a, space_a)
    create_invitation_with_code(admin_b, space_b)
    make_user("partenaire")
    client = app.test_client()
    login(client, "partenaire")
    location = type_code(client, code_a).location
    page = client.get(location).get_data(as_text=True)
    assert space_a.name in page and space_b.name not in page
    assert post(client, location).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "partenaire"))
    assert db.session.scalars(select(Membership.space_id).where(Membership.user_id == user.id)).all() == [space_a.id]
    assert client.get(f"/s/{space_b.slug}/").status_code == 404
    assert db.session.scalars(select(Invitation.uses).order_by(Invitation.id)).all() == [1, 0]


def test_someone_with_an_account_logs_in_from_the_code_page_and_joins(app, member_client, make_user, db):
    admin_client, space, _admin = member_client("admin")
    _link, code = create_invitation_with_code(admin_client, space)
    make_user("habitante")
    client = app.test_client()
    location = type_code(client, code).location
    page = client.get(location).get_data(as_text=True)
    assert f'href="/login?next={location}"' in page
    response = client.post(
        f"/login?next={location}", data={"username": "habitante", "password": PASSWORD, "csrf_token": csrf(client)}
    )
    assert response.location == location
    assert post(client, location).status_code == 302
    user = db.session.scalar(select(User).where(User.username == "habitante"))
    assert db.session.scalar(select(Membership.space_id).where(Membership.user_id == user.id)) == space.id
