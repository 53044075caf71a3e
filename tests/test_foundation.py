"""The foundation: configuration layers, database settings, health, headers, errors, languages."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text

from agora import create_app
from agora.config import ConfigError, load_settings
from agora.core.time import UTCDateTime
from tests.conftest import app_config, login, make_app


def test_settings_layers_in_order(tmp_path):
    (tmp_path / "agora.toml").write_text('site_name = "Fichier"\nmax_upload_mb = 10\nhttps = true\n', encoding="utf-8")
    environ = {"AGORA_MAX_UPLOAD_MB": "20", "AGORA_SECRET_KEY": "from-env"}
    settings = load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "from-mapping"}, environ)
    assert settings["SITE_NAME"] == "Fichier"  # file over default
    assert settings["MAX_UPLOAD_MB"] == 20  # environment over file
    assert settings["MAX_CONTENT_LENGTH"] == 20 * 1024 * 1024
    assert settings["SECRET_KEY"] == "from-mapping"  # mapping over environment
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'agora.db'}"


def test_database_url_from_environment(tmp_path):
    url = "postgresql+psycopg://someone@db.example/agora"
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)}, {"AGORA_DATABASE_URL": url})
    assert settings["SQLALCHEMY_DATABASE_URI"] == url


@pytest.mark.parametrize(
    "environ, message",
    [({"AGORA_MAX_UPLOAD_MB": "lots"}, "whole number"), ({"AGORA_HTTPS": "maybe"}, "true or false")],
)
def test_bad_environment_values_are_refused(tmp_path, environ, message):
    with pytest.raises(ConfigError, match=message):
        load_settings({"INSTANCE_PATH": str(tmp_path)}, environ)


def test_broken_config_file_is_refused(tmp_path):
    (tmp_path / "agora.toml").write_text("secret_key = \n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings({"INSTANCE_PATH": str(tmp_path)}, {})


def test_app_refuses_to_start_without_secret_key(tmp_path, monkeypatch):
    monkeypatch.delenv("AGORA_SECRET_KEY", raising=False)
    with pytest.raises(ConfigError, match="agora init"):
        create_app({"INSTANCE_PATH": str(tmp_path)})


def test_an_unknown_search_engine_is_refused_at_start(tmp_path, monkeypatch):
    monkeypatch.setenv("AGORA_SEARCH_BACKEND", "elastic")
    with pytest.raises(ConfigError, match="SEARCH_BACKEND must be one of whoosh, not 'elastic'"):
        create_app({**app_config(tmp_path, f"sqlite:///{tmp_path / 'agora.db'}")})


def test_factory_touches_no_database(tmp_path):
    create_app({**app_config(tmp_path, f"sqlite:///{tmp_path / 'never.db'}")})
    assert not (tmp_path / "never.db").exists()


def test_sqlite_connections_use_wal_foreign_keys_and_busy_timeout(tmp_path):
    app = create_app(app_config(tmp_path, f"sqlite:///{tmp_path / 'pragmas.db'}"))
    with app.app_context():
        from agora.extensions import db

        with db.engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
            assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 10000
        db.engine.dispose()


def test_timestamps_refuse_naive_values_and_come_back_in_utc(db):
    table = Table("tz_probe", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime))
    with db.engine.begin() as conn:
        table.create(conn)
        try:
            paris = timezone(timedelta(hours=1))
            conn.execute(table.insert().values(id=1, at=datetime(2026, 3, 1, 18, 30, tzinfo=paris)))
            stored = conn.execute(select(table.c.at)).scalar_one()
            assert stored == datetime(2026, 3, 1, 17, 30, tzinfo=UTC)
            assert stored.utcoffset() == timedelta(0)
            with pytest.raises(Exception, match="naive datetime refused"):
                conn.execute(table.insert().values(id=2, at=datetime(2026, 3, 1, 18, 30)))
        finally:
            table.drop(conn)


def test_healthz_answers_when_the_database_does(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "ok"}


def test_healthz_answers_503_when_the_database_does_not(tmp_path):
    app = create_app(app_config(tmp_path, "postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=2"))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    assert response.get_json()["database"] == "unreachable"


def test_security_headers_on_every_page(client):
    response = client.get("/login")
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"


def test_session_cookie_flags(app, make_user, tmp_path, database_url):
    user = make_user()
    client = app.test_client()
    login(client, user.username)
    cookie = client.get_cookie("agora_session")
    assert cookie.http_only and cookie.same_site == "Lax" and not cookie.secure

    https_app = make_app(tmp_path, database_url, HTTPS=True)
    assert https_app.config["SESSION_COOKIE_SECURE"] is True


def test_pages_are_in_french_by_default_and_english_on_request(client):
    page = client.get("/login").get_data(as_text=True)
    assert '<html lang="fr">' in page and "Se connecter" in page
    page = client.get("/login", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in page and "Log in" in page


def test_language_choice_beats_the_browser(client):
    from tests.conftest import post

    response = post(client, "/language", {"language": "en", "next": "/login"})
    assert response.status_code == 302 and response.location == "/login"
    page = client.get("/login", headers={"Accept-Language": "fr"}).get_data(as_text=True)
    assert "Log in" in page


def test_language_choice_refuses_unknown_languages_and_foreign_redirects(client):
    from tests.conftest import post

    assert post(client, "/language", {"language": "xx"}).status_code == 400
    response = post(client, "/language", {"language": "fr", "next": "https://evil.example/"})
    assert response.location == "/"


@pytest.mark.parametrize("lang, text", [("fr", "Page introuvable"), ("en", "Page not found")])
def test_error_pages_in_both_languages_with_a_way_back(client, lang, text):
    response = client.get("/no/such/page", headers={"Accept-Language": lang})
    page = response.get_data(as_text=True)
    assert response.status_code == 404
    assert text in page and 'href="/"' in page and 'id="main"' in page


def test_post_without_csrf_token_is_refused(client):
    response = client.post("/login", data={"username": "x", "password": "y"})
    assert response.status_code == 400
    assert "Le formulaire a expiré" in response.get_data(as_text=True)


def test_too_large_request_gets_a_clear_413_page(tmp_path, database_url):
    app = make_app(tmp_path, database_url, MAX_CONTENT_LENGTH=1024)
    response = app.test_client().post("/login", data={"username": "x" * 5000})
    assert response.status_code == 413
    assert "dépasse la taille autorisée" in response.get_data(as_text=True)


def test_base_layout_has_landmarks_and_skip_link(client):
    page = client.get("/login").get_data(as_text=True)
    for piece in ('class="skip-link" href="#main"', "<header", "<main", "<footer", 'name="viewport"'):
        assert piece in page
    assert "<script>" not in page and "style=" not in page


def test_static_files_are_served_by_agora(client):
    response = client.get("/static/agora.css")
    assert response.status_code == 200 and b":focus-visible" in response.data
    response.close()


def test_unexpected_error_gives_a_500_page_and_keeps_nothing(tmp_path, database_url):
    app = make_app(tmp_path, database_url)
    app.testing = False  # let the error handler answer, as in production

    @app.get("/boom")
    def boom():
        raise RuntimeError("kaboom")

    response = app.test_client().get("/boom", headers={"Accept-Language": "fr"})
    page = response.get_data(as_text=True)
    assert response.status_code == 500
    assert "Erreur du serveur" in page and "kaboom" not in page and 'href="/"' in page


def test_the_accessibility_statement_is_public_and_linked_from_every_page(client):
    page = client.get("/accessibilite").get_data(as_text=True)
    assert "Déclaration d’accessibilité" in page and "partiellement conforme" in page and "200 %" in page
    assert 'href="/accessibilite"' in client.get("/login").get_data(as_text=True)


def test_template_text_is_compiled_in_each_language_and_reads_as_the_calls_would(app):
    from flask import render_template_string

    source = '{{ _("Se connecter") }}|{{ _("Se connecter") | upper }}|{{ _("100 %% sûr") }}|{{ icon("bell", "simple-only") }}'
    with app.test_request_context(headers={"Accept-Language": "en"}):
        english = render_template_string(source)
        folded = app.jinja_env.compile(source, raw=True)
    with app.test_request_context(headers={"Accept-Language": "fr"}):
        french = render_template_string(source)
    icon = '<svg class="icon simple-only" aria-hidden="true" focusable="false"><use href="/static/icons.svg#bell"></use></svg>'
    assert english == f"Log in|LOG IN|100 % sûr|{icon}"
    assert french == f"Se connecter|SE CONNECTER|100 % sûr|{icon}"
    # The plain string became text of the compiled template; the one with a filter stays a call.
    assert "'Log in|'" in folded and folded.count("Se connecter") == 1
    with app.app_context():
        # Outside a request (the command line, the background process): the calls, as written.
        assert render_template_string('{{ _("Se connecter") }}|{{ _("100 %% sûr") }}') == "Se connecter|100 % sûr"


def test_a_misspelt_icon_fails_when_its_template_is_compiled(app):
    from flask import render_template_string

    with app.test_request_context(), pytest.raises(KeyError, match="no icon 'bel'"):
        render_template_string('{{ icon("bel") }}')
