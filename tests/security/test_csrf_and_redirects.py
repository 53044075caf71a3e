"""Every POST route refuses a request without its CSRF token; no redirect leaves this server."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from sqlalchemy import func, select

from agora.spaces.models import Activity, Membership, Space
from tests.conftest import PASSWORD, csrf_token, login

#: POST routes without the token on purpose, and why.
EXEMPT: dict[str, str] = {
    # RFC 8058 one-click unsubscribe: mail programs post there with no form; the signed token is the
    # proof (a forged one gives 404 and changes nothing: tests/test_notifications.py).
    "notifications.unsubscribe": "signed link from a mail",
}


def _post_rules(app):
    return sorted((r for r in app.url_map.iter_rules() if "POST" in r.methods), key=lambda r: r.rule)


def _path(app, rule, slug: str) -> str:
    values = {}
    for name in rule.arguments - set(rule.defaults or ()):
        values[name] = slug if name == "slug" else ("jeton-quelconque" if name == "token" else 1)
    with app.test_request_context():
        return app.url_map.bind("localhost").build(rule.endpoint, values, method="POST")


def _counts(db) -> tuple:
    return tuple(db.session.scalar(select(func.count()).select_from(m)) for m in (Space, Membership, Activity))


def test_every_post_route_refuses_a_missing_or_wrong_token(app, db, make_user, make_space, make_member):
    admin = make_user("gardienne", is_site_admin=True)
    space = make_space("espace-garde")
    make_member(space, admin, "admin")
    client = app.test_client()
    assert login(client, admin.username, PASSWORD).status_code == 302
    before = _counts(db)
    checked = 0
    for rule in _post_rules(app):
        if rule.endpoint in EXEMPT:
            continue
        path = _path(app, rule, space.slug)
        for data in ({"title": "sans jeton", "name": "x"}, {"title": "faux jeton", "csrf_token": "faux"}):
            response = client.post(path, data=data)
            assert response.status_code == 400, f"POST {path} without a valid token gave {response.status_code}"
            assert "Le formulaire a expiré" in response.get_data(as_text=True)
            checked += 1
    assert checked >= 2 * 80  # the walk sees the whole app
    assert _counts(db) == before


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example",
        "\\/evil.example",
        "javascript:alert(1)",
        "http:/evil.example",
        "/\t/evil.example",
        " //evil.example",
        "%2F%2Fevil.example",
    ],
)
def test_redirects_after_login_and_language_stay_on_this_server(app, client, make_user, target):
    make_user("voyageuse")
    token = csrf_token(client)
    responses = [
        client.post(
            "/login",
            query_string={"next": target},
            data={"username": "voyageuse", "password": PASSWORD, "csrf_token": token},
        ),
        client.post("/language", data={"language": "fr", "next": target, "csrf_token": csrf_token(client)}),
    ]
    for response in responses:
        assert response.status_code in (302, 303)
        location = urlsplit(response.location)
        assert location.netloc in ("", "localhost") and not location.scheme.startswith("javascript")
        assert "evil" not in location.netloc
