"""Mode simple: a person's choice of bigger text, icons with every label and one column, kept on the account."""

from __future__ import annotations

import re

import pytest

from agora.auth.models import User
from tests.conftest import PASSWORD, login, post

HTML_TAG = re.compile(r"<html[^>]*>")


def html_tag(client, url: str = "/") -> str:
    return HTML_TAG.search(client.get(url).get_data(as_text=True)).group(0)


def test_pages_of_a_person_without_the_mode_have_no_class_and_offer_the_switch(client, make_user):
    make_user("odile")
    login(client, "odile")
    page = client.get("/").get_data(as_text=True)
    assert "simple-mode" not in HTML_TAG.search(page).group(0)
    assert ">Mode simple</button>" in page and 'name="simple_mode" value="on"' in page


def test_the_switch_stores_the_choice_and_every_page_then_has_the_class(client, make_user, make_space, make_member, db):
    user = make_user("odile")
    space = make_space("conseil")
    make_member(space, user)
    login(client, "odile")
    response = post(client, "/profile/simple-mode", {"simple_mode": "on", "next": "/s/conseil/?page=1"})
    assert response.status_code == 302 and response.location == "/s/conseil/?page=1"
    assert db.session.get(User, user.id).simple_mode is True
    page = client.get("/s/conseil/").get_data(as_text=True)
    assert 'class="simple-mode"' in HTML_TAG.search(page).group(0)
    assert "Mode simple activé." in page
    assert ">Affichage habituel</button>" in page and 'name="simple_mode" value="off"' in page
    assert 'class="simple-mode"' in html_tag(client, "/profile")

    post(client, "/profile/simple-mode", {"simple_mode": "off", "next": "/"})
    assert db.session.get(User, user.id).simple_mode is False
    assert "simple-mode" not in html_tag(client, "/s/conseil/")


def test_the_choice_outlives_the_session(app, client, make_user, db):
    user = make_user("odile")
    login(client, "odile")
    post(client, "/profile/simple-mode", {"simple_mode": "on", "next": "/"})
    post(client, "/logout")
    assert "simple-mode" not in html_tag(client, "/login")  # pages before login are unaffected
    other_device = app.test_client()
    login(other_device, "odile", PASSWORD)
    assert 'class="simple-mode"' in html_tag(other_device, "/")
    assert db.session.get(User, user.id).simple_mode is True


def test_the_profile_form_switches_the_mode_on_and_off(client, make_user, db):
    user = make_user("odile")
    login(client, "odile")
    fields = {"display_name": "Odile", "email": "", "language": "fr", "timezone": "Europe/Paris"}
    assert 'id="simple_mode"' in client.get("/profile").get_data(as_text=True)
    assert post(client, "/profile", {**fields, "simple_mode": "y"}).status_code == 302
    assert db.session.get(User, user.id).simple_mode is True
    checkbox = re.search(r'<input[^>]*id="simple_mode"[^>]*>', client.get("/profile").get_data(as_text=True)).group(0)
    assert "checked" in checkbox
    assert post(client, "/profile", fields).status_code == 302
    assert db.session.get(User, user.id).simple_mode is False


def test_the_switch_without_its_csrf_token_is_refused_and_changes_nothing(client, make_user, db):
    user = make_user("odile")
    login(client, "odile")
    response = client.post("/profile/simple-mode", data={"simple_mode": "on", "next": "/"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)
    assert db.session.get(User, user.id).simple_mode is False


def test_the_switch_refuses_a_value_it_does_not_know(client, make_user, db):
    user = make_user("odile")
    login(client, "odile")
    assert post(client, "/profile/simple-mode", {"simple_mode": "peut-être"}).status_code == 400
    assert db.session.get(User, user.id).simple_mode is False


@pytest.mark.parametrize(
    "target",
    [
        "https://pirate.example/",
        "//pirate.example/",
        "/\\pirate.example",
        "javascript:alert(1)",
        "http:/pirate.example",
    ],
)
def test_the_switch_never_sends_the_person_off_site(client, make_user, db, target):
    user = make_user("odile")
    login(client, "odile")
    response = post(client, "/profile/simple-mode", {"simple_mode": "on", "next": target})
    assert response.status_code == 302 and response.location == "/profile"
    assert db.session.get(User, user.id).simple_mode is True


def test_a_visitor_cannot_switch_and_sees_no_switch(client, make_user):
    make_user("odile")
    page = client.get("/login").get_data(as_text=True)
    assert "simple-mode" not in HTML_TAG.search(page).group(0) and "Mode simple" not in page
    response = post(client, "/profile/simple-mode", {"simple_mode": "on", "next": "/"})
    assert response.status_code == 302 and response.location.startswith("/login")
