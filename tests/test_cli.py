"""The `agora` command: init, users, spaces, demo, serve; clear errors on bad input."""

from __future__ import annotations

import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from agora.cli import main

AGORA = str(Path(sys.executable).with_name("agora"))


@pytest.fixture
def instance(tmp_path, monkeypatch):
    folder = tmp_path / "instance"
    for name in list(os.environ):
        if name.startswith("AGORA_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AGORA_INSTANCE", str(folder))
    return folder


def run(*args, input=None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_init_creates_config_database_and_first_admin_then_changes_nothing(instance):
    first = run("init")
    assert first.exit_code == 0, first.output
    assert "secret key" in first.output and "Created the hosting admin account 'admin' with password:" in first.output
    assert (instance / "agora.toml").stat().st_mode & 0o777 == 0o600
    assert (instance / "agora.db").exists()
    config = (instance / "agora.toml").read_text()

    second = run("init")
    assert second.exit_code == 0
    assert "Nothing to do" in second.output and "password" not in second.output
    assert (instance / "agora.toml").read_text() == config


def test_printed_admin_password_logs_in(instance):
    output = run("init").output
    password = output.split("with password: ")[1].split()[0]
    from agora import create_app

    app = create_app()
    from tests.conftest import IsolatedClient, login

    app.test_client_class = IsolatedClient
    assert login(app.test_client(), "admin", password).status_code == 302
    with app.app_context():
        from agora.extensions import db

        db.engine.dispose()


def test_init_with_unreachable_database_says_so_and_creates_nothing(instance, monkeypatch):
    monkeypatch.setenv("AGORA_DATABASE_URL", "postgresql+psycopg://nobody@127.0.0.1:1/none")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1
    assert "The database cannot be reached" in result.output and "Traceback" not in result.output
    assert not instance.exists()


def test_init_in_an_unwritable_place_says_so(tmp_path, monkeypatch):
    monkeypatch.setenv("AGORA_INSTANCE", "/proc/agora-instance")
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 1 and "cannot be written" in result.output


def test_unknown_option_is_a_usage_error(instance):
    result = CliRunner().invoke(main, ["init", "--bogus"])
    assert result.exit_code == 2 and "No such option" in result.output


def test_users_and_spaces_from_the_command_line(instance):
    run("init")
    assert (
        run("user", "create", "Nadia", "--email", "nadia@example.org", "--password", "une phrase solide").exit_code == 0
    )
    result = run("user", "create", "lucie", input="encore une phrase\n")
    assert result.exit_code == 0
    assert run("space", "create", "conseil", "--name", "Conseil citoyen", "--admin", "nadia").exit_code == 0
    assert run("space", "add-member", "conseil", "lucie", "--role", "reader").exit_code == 0
    listing = run("space", "list").output
    assert "conseil\tConseil citoyen\t2 members\topen" in listing
    assert "nadia@example.org" in run("user", "list").output
    assert run("user", "disable", "lucie").exit_code == 0
    assert "disabled" in [line for line in run("user", "list").output.splitlines() if line.startswith("lucie")][0]
    assert run("user", "enable", "lucie").exit_code == 0
    assert "disabled" not in [line for line in run("user", "list").output.splitlines() if line.startswith("lucie")][0]
    assert run("space", "archive", "conseil").exit_code == 0
    assert "archived" in run("space", "list").output


def test_set_password_gives_a_demo_person_a_password_to_log_in_with(instance):
    run("init")
    run("demo")
    result = run("user", "set-password", "karim.haddad", input="le jardin des tilleuls\n")
    assert result.exit_code == 0 and "karim.haddad" in result.output
    from agora import create_app

    app = create_app()
    from tests.conftest import IsolatedClient, login

    app.test_client_class = IsolatedClient
    with app.app_context():
        from sqlalchemy import select

        from agora.auth.models import AuditEntry
        from agora.extensions import db

        entry = db.session.scalars(select(AuditEntry).where(AuditEntry.action == "password.changed")).one()
        assert entry.target == "karim.haddad" and entry.details == {"via": "cli"}
        db.engine.dispose()
    assert login(app.test_client(), "karim.haddad", "le jardin des tilleuls").status_code == 302
    weak = CliRunner().invoke(main, ["user", "set-password", "karim.haddad", "--password", "azertyuiop"])
    assert weak.exit_code == 1 and "trop courant" in weak.output
    unknown = CliRunner().invoke(main, ["user", "set-password", "personne", "--password", "une phrase solide"])
    assert unknown.exit_code == 1 and "No account" in unknown.output


@pytest.mark.parametrize(
    "args, message",
    [
        (["user", "create", "NADIA", "--password", "une phrase solide"], "déjà pris"),
        (["user", "create", "x", "--password", "une phrase solide"], "3 à 40 caractères"),
        (["user", "create", "bob", "--password", "azertyuiop"], "trop courant"),
        (["space", "create", "admin", "--name", "X"], "réservée"),
        (["space", "create", "conseil", "--name", "Autre"], "déjà cette adresse"),
        (["space", "create", "autre", "--name", "Autre", "--admin", "personne"], "No account"),
        (["space", "add-member", "conseil", "nadia", "--role", "boss"], "Invalid value for '--role'"),
        (["space", "add-member", "nulle-part", "nadia"], "No space"),
    ],
)
def test_bad_cli_input_gets_one_clear_sentence(instance, args, message):
    run("init")
    run("user", "create", "nadia", "--password", "une phrase solide")
    run("space", "create", "conseil", "--name", "Conseil citoyen")
    before = run("space", "list").output + run("user", "list").output
    result = CliRunner().invoke(main, args)
    assert result.exit_code in (1, 2) and message in result.output, result.output
    assert "Traceback" not in result.output
    assert run("space", "list").output + run("user", "list").output == before


def test_demo_fills_three_spaces_once(instance):
    run("init")
    first = run("demo")
    assert first.exit_code == 0 and "/s/conseil-tilleuls/" in first.output
    assert "Nothing to do" in run("demo").output
    listing = run("space", "list").output
    for slug in ("conseil-tilleuls", "gup-tilleuls", "partenaires-tilleuls"):
        assert slug in listing
    with sqlite3.connect(instance / "agora.db") as conn:  # bells are full, yet no real mail is on its way
        in_bell, to_mail = conn.execute("SELECT count(*), count(mail_due_at) FROM notifications").fetchone()
    assert in_bell > 50 and to_mail == 0
    assert run("mail", "status").output.startswith("pending 0,")


def test_generated_spaces_are_the_same_for_the_same_arguments(instance, tmp_path, monkeypatch):
    run("init")
    made = run("demo", "--spaces", "2", "--scale", "0.05")
    assert made.exit_code == 0 and "Generated 2 spaces and 20 people" in made.output, made.output
    assert "100 replies" in made.output and "20 events" in made.output  # 50 and 10 in each space
    again = CliRunner().invoke(main, ["demo", "--spaces", "2"])
    assert again.exit_code == 1 and "already exist" in again.output
    assert CliRunner().invoke(main, ["demo", "--spaces", "0"]).exit_code == 2

    def snapshot(folder):
        with sqlite3.connect(folder / "agora.db") as conn:
            return (
                conn.execute("SELECT group_concat(display_name) FROM users WHERE username LIKE 'habitant%'").fetchone(),
                conn.execute("SELECT group_concat(title) FROM forum_topics").fetchone(),
            )

    other = tmp_path / "autre"
    monkeypatch.setenv("AGORA_INSTANCE", str(other))
    run("init")
    run("demo", "--spaces", "2", "--scale", "0.05")
    assert snapshot(other) == snapshot(instance)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_serve_answers_logs_requests_and_stops_on_sigterm(instance):
    env = {**os.environ, "AGORA_INSTANCE": str(instance)}
    subprocess.run([AGORA, "init"], env=env, check=True, capture_output=True)
    port = free_port()
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(port)],  # on SQLite: one worker
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        said = []
        for line in server.stderr:  # blocks until gunicorn says a worker is up
            said.append(line)
            if "Booting worker" in line:
                break
        # The default AGORA_BASE_URL names port 8000: mails would link to the wrong server.
        assert any(f"but the server listens on port {port}: set AGORA_BASE_URL" in line for line in said), said
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
            assert response.status == 200 and b'"ok"' in response.read()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=10) as response:
            assert "Se connecter" in response.read().decode()

        taken = subprocess.run([AGORA, "serve", "--port", str(port)], env=env, capture_output=True, text=True)
        assert taken.returncode == 1 and "already in use" in taken.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        out, err = server.communicate(timeout=30)
    assert server.returncode == 0
    assert '"GET /healthz HTTP/1.1" 200' in out
    assert "(1 worker × 4 threads)" in out
    assert sum("Booting worker" in line for line in said + err.splitlines()) == 1


def _mail_senders(parent: int) -> list[int]:
    """The `agora-mail` processes among the server's children."""
    try:
        children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    except OSError:
        return []
    return [
        int(pid)
        for pid in children
        if Path(f"/proc/{pid}/comm").exists() and Path(f"/proc/{pid}/comm").read_text().strip() == "agora-mail"
    ]


@pytest.mark.slow
def test_serve_runs_one_mail_sender_beside_its_workers(instance, smtp_server):
    """The sender started by serve delivers, is alone, and stops with the server."""
    controller, handler = smtp_server
    env = {
        **os.environ,
        "AGORA_INSTANCE": str(instance),
        "AGORA_SMTP_HOST": "127.0.0.1",
        "AGORA_SMTP_PORT": str(controller.port),
        "AGORA_SMTP_FROM": "agora@quartier.example",
    }
    subprocess.run([AGORA, "init"], env=env, check=True, capture_output=True)
    with sqlite3.connect(instance / "agora.db") as conn:  # a mail left by an earlier run
        conn.execute(
            "INSERT INTO outbox_messages (recipient, subject, body, status, attempts, created_at, "
            "next_attempt_at) VALUES ('odile@example.org', 'Réunion', 'Mardi', 'pending', 0, "
            "'2026-01-01 00:00:00.000000', '2026-01-01 00:00:00.000000')"
        )
    server = subprocess.Popen(
        [AGORA, "serve", "--port", str(free_port()), "--workers", "2"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not handler.messages and time.monotonic() < deadline:
            time.sleep(0.2)
        assert [m["To"] for m in handler.messages] == ["odile@example.org"]
        senders = _mail_senders(server.pid)
        assert len(senders) == 1  # one sender for two workers
    finally:
        server.send_signal(signal.SIGTERM)
        out, _err = server.communicate(timeout=30)
    assert server.returncode == 0, out
    assert not any(Path(f"/proc/{pid}").exists() for pid in senders)  # the sender stopped with the server
    assert len(handler.messages) == 1


@pytest.mark.slow
def test_serve_refuses_a_database_that_is_not_migrated(instance, tmp_path):
    env = {
        **os.environ,
        "AGORA_INSTANCE": str(instance),
        "AGORA_SECRET_KEY": "x",
        "AGORA_DATABASE_URL": f"sqlite:///{tmp_path / 'empty.db'}",
    }
    result = subprocess.run([AGORA, "serve", "--port", str(free_port())], env=env, capture_output=True, text=True)
    assert result.returncode == 1 and "agora db upgrade" in result.stderr


def test_mail_commands(instance):
    run("init")
    assert run("mail", "status").output.strip() == "pending 0, sending 0, sent 0, failed 0"
    result = CliRunner().invoke(main, ["mail", "send"])
    assert result.exit_code == 1 and "AGORA_SMTP_HOST" in result.output


def test_documents_check_exits_1_on_an_orphan_file_and_fix_removes_it(instance):
    assert run("init").exit_code == 0
    clean = run("documents", "check")
    assert clean.exit_code == 0 and "files and database agree" in clean.output
    orphan = instance / "files" / "1" / "documents" / "ab" / ("ab" * 16)
    orphan.parent.mkdir(parents=True)
    orphan.write_bytes(b"left by a crash")
    old = time.time() - 7200
    os.utime(orphan, (old, old))
    found = CliRunner().invoke(main, ["documents", "check"])
    assert found.exit_code == 1 and f"orphan file (no version row): {orphan}" in found.output
    assert orphan.exists()
    fixed = run("documents", "check", "--fix")
    assert fixed.exit_code == 0 and "fixed" in fixed.output and not orphan.exists()
    assert run("documents", "check").exit_code == 0
    assert run("documents", "purge").output.strip() == "freed 0 bytes"


def test_search_reindex_rebuilds_the_index_of_the_demo(instance):
    assert run("init").exit_code == 0
    assert run("demo").exit_code == 0
    rebuilt = run("search", "reindex")
    assert rebuilt.exit_code == 0 and re.match(r"indexed \d+ items in [\d.]+ s", rebuilt.output)
    assert int(rebuilt.output.split()[1]) > 40
    one = run("search", "reindex", "--space", "gup-tilleuls")
    assert one.exit_code == 0 and 0 < int(one.output.split()[1]) < int(rebuilt.output.split()[1])
    unknown = CliRunner().invoke(main, ["search", "reindex", "--space", "nulle-part"])
    assert unknown.exit_code == 1


@pytest.mark.parametrize(
    ("base_url", "port", "warned"),
    [
        ("http://localhost:8000", 8000, False),
        ("http://localhost:8000", 8001, True),
        ("http://127.0.0.1", 8000, True),
        ("http://127.0.0.1", 80, False),
        ("https://agora.quartier.example", 8000, False),
    ],
)
def test_serve_warns_when_links_name_this_machine_on_another_port(base_url, port, warned):
    from agora.cli import base_url_mismatch

    assert (base_url_mismatch(base_url, port) is not None) == warned
