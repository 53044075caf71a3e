"""Fixtures: one app and one migrated database per run, emptied after every test.

AGORA_TEST_DATABASE_URL runs the same suite on PostgreSQL; by default it uses a SQLite file.
Factories work in their own app context and return snapshots (plain attributes), so a test
never holds an app context open around the test client's requests.
"""

from __future__ import annotations

import contextvars
import os
import re
import shutil
import socket
from datetime import UTC, datetime, time, timedelta
from html.parser import HTMLParser
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from flask import has_app_context
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import delete, inspect, text

from agora import create_app
from agora.auth import services as auth_services
from agora.extensions import db as _db
from agora.spaces import services as space_services

PASSWORD = "tournesol et pissenlit"
TEST_DATABASE_URL = os.environ.get("AGORA_TEST_DATABASE_URL", "")


def app_config(instance, url: str) -> dict:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret",
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": url,
        # The test client calls itself "localhost": links in mails and pages use the same public address.
        "BASE_URL": "http://localhost",
        # Cheap hashing keeps the suite fast; production uses argon2-cffi's defaults.
        "ARGON2_TIME_COST": 1,
        "ARGON2_MEMORY_KIB": 64,
        "ARGON2_PARALLELISM": 1,
        # Background jobs (search indexing) run as each request ends: pages show them at once.
        "JOBS_RUN_INLINE": True,
        # Read positions and visits written by the request that moves them (see `deferred_markers`).
        "MARKER_DELAY_MS": 0,
    }


class IsolatedClient(FlaskClient):
    """A test client whose requests never share the test's app context, as in production.

    Flask reuses an app context already pushed; a test holding one (the `db` fixture) would
    then share `g` and the database session with the requests it makes.
    """

    def open(self, *args, **kwargs):
        kwargs.setdefault("buffered", True)  # the body is read and closed, as a server would
        response = contextvars.Context().run(super().open, *args, **kwargs)
        if has_app_context():
            _db.session.expire_all()  # the test reads what the request committed
        return response


def make_app(instance, url: str, **overrides):
    """Create an app for tests, with the isolating test client."""
    application = create_app({**app_config(instance, url), **overrides})
    application.test_client_class = IsolatedClient
    return application


def empty_database() -> None:
    """Drop every table, so that migrations start from nothing."""
    engine = _db.engine
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
    else:
        with engine.begin() as conn:
            conn.execute(text("PRAGMA foreign_keys=OFF"))
            for table in inspect(conn).get_table_names():
                conn.execute(text(f'DROP TABLE "{table}"'))
            conn.execute(text("PRAGMA foreign_keys=ON"))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory) -> str:
    return TEST_DATABASE_URL or f"sqlite:///{tmp_path_factory.mktemp('db') / 'agora-test.db'}"


@pytest.fixture(scope="session")
def app(tmp_path_factory, database_url):
    instance = tmp_path_factory.mktemp("instance")
    application = make_app(instance, database_url)
    with application.app_context():
        empty_database()
        upgrade(directory=application.extensions["migrate"].directory)
    yield application
    with application.app_context():
        _db.session.remove()
        _db.engine.dispose()


@pytest.fixture(autouse=True)
def _clean_tables(app):
    yield
    with app.app_context():
        _db.session.remove()
        for table in reversed(_db.metadata.sorted_tables):
            _db.session.execute(delete(table))
        _db.session.commit()
        _db.session.remove()
    for folder in ("files", "search"):  # ids restart: so do files and the index
        shutil.rmtree(os.path.join(app.instance_path, folder), ignore_errors=True)


@pytest.fixture
def background_jobs(app, monkeypatch):
    """Jobs left to the background process, as in production; call the fixture to run what is due."""
    from agora.core import jobs

    monkeypatch.setitem(app.config, "JOBS_RUN_INLINE", False)

    def run() -> int:
        with app.app_context():
            return jobs.run_all()

    return run


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def db(app):
    """An app context for reading or changing the database directly in a test."""
    with app.app_context():
        yield _db
        _db.session.remove()


def snapshot(obj) -> SimpleNamespace:
    """Copy a model's column values into a plain object that outlives the session."""
    return SimpleNamespace(**{c.key: getattr(obj, c.key) for c in inspect(obj).mapper.column_attrs})


@pytest.fixture
def make_user(app):
    counter = iter(range(1, 100_000))

    def make(username: str | None = None, password: str | None = PASSWORD, **kwargs) -> SimpleNamespace:
        with app.app_context():
            user = auth_services.create_user(username or f"user{next(counter)}", password, **kwargs)
            _db.session.commit()
            return snapshot(user)

    return make


@pytest.fixture
def make_space(app):
    counter = iter(range(1, 100_000))

    def make(slug: str | None = None, name: str | None = None, **kwargs) -> SimpleNamespace:
        with app.app_context():
            n = next(counter)
            space = space_services.create_space(slug or f"espace-{n}", name or f"Espace {n}", actor=None, **kwargs)
            _db.session.commit()
            return snapshot(space)

    return make


@pytest.fixture
def make_member(app):
    """make_member(space, user, role) -> membership snapshot."""

    def make(space, user, role: str = "member") -> SimpleNamespace:
        with app.app_context():
            from agora.auth.models import User
            from agora.spaces.models import Space

            membership = space_services.add_member(
                _db.session.get(Space, space.id), _db.session.get(User, user.id), role, actor=None
            )
            _db.session.commit()
            return snapshot(membership)

    return make


CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


def csrf_token(client) -> str:
    """Return a CSRF token valid for this client's session."""
    page = client.get("/password/forgot").get_data(as_text=True)
    return CSRF_RE.search(page).group(1)


def login(client, username: str, password: str = PASSWORD):
    """Log the client in through the real form; returns the response."""
    return client.post("/login", data={"username": username, "password": password, "csrf_token": csrf_token(client)})


def post(client, url: str, data: dict | None = None, **kwargs):
    """POST a form with a valid CSRF token, as a browser would."""
    return client.post(url, data={**(data or {}), "csrf_token": csrf_token(client)}, **kwargs)


class _Options(HTMLParser):
    def __init__(self, name: str):
        super().__init__()
        self.name, self.inside, self.in_option, self.group, self.options = name, False, False, None, []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "select":
            self.inside = attrs.get("name") == self.name
        elif self.inside and tag == "optgroup":
            self.group = attrs.get("label")
        elif self.inside and tag == "option":
            self.in_option = True
            self.options.append(
                SimpleNamespace(value=attrs.get("value"), label="", group=self.group, selected="selected" in attrs)
            )

    def handle_endtag(self, tag):
        if tag == "select":
            self.inside = False
        elif tag == "option":
            self.in_option = False
        elif tag == "optgroup":
            self.group = None

    def handle_data(self, data):
        if self.in_option:
            self.options[-1].label += data


def select_options(page: str, name: str) -> list[SimpleNamespace]:
    """The options of the select `name` as a browser lists them: value, label, group, selected."""
    parser = _Options(name)
    parser.feed(page)
    return parser.options


@pytest.fixture
def member_client(app, make_user, make_space, make_member):
    """member_client(role) -> (client, space, user): a logged-in client with that role in a new space."""

    def make(role: str = "member", space=None):
        space = space or make_space()
        user = make_user()
        make_member(space, user, role)
        client = app.test_client()
        assert login(client, user.username).status_code == 302
        return client, space, user

    return make


def deliver_notifications(after=None) -> int:
    """Write every notification mail due within two hours (or by `after`) to the outbox, as the sender would."""
    from datetime import timedelta

    from agora.core.time import utcnow
    from agora.notifications.mails import compose_due

    return compose_due(after or utcnow() + timedelta(hours=2))


PARIS = ZoneInfo("Europe/Paris")


def next_monday_ten_in_paris() -> datetime:
    """10:00 in Paris on a coming Monday (in UTC), with no change of clocks in the fortnight after."""
    from agora.core.time import utcnow

    day = utcnow().astimezone(PARIS).date() + timedelta(days=1)
    day += timedelta(days=-day.weekday() % 7)
    while True:
        start = datetime.combine(day, time(10), PARIS)
        if start.utcoffset() == datetime.combine(day + timedelta(days=14), time(10), PARIS).utcoffset():
            return start.astimezone(UTC)
        day += timedelta(days=7)


class Clock:
    """The time `agora.core.time.utcnow` gives while a test runs: it stands still until moved."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> datetime:
        self.now += timedelta(**delta)
        return self.now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now


#: Run the suite as if it were another day (`AGORA_TEST_NOW=2031-06-01T10:00:00+00:00 pytest`): a
#: test that only passes before some date shows itself.
TEST_NOW = datetime.fromisoformat(os.environ["AGORA_TEST_NOW"]) if os.environ.get("AGORA_TEST_NOW") else None


@pytest.fixture(autouse=True)
def frozen_clock():
    """Every test runs on a frozen clock, set to the moment it starts (or AGORA_TEST_NOW): no test
    depends on how long it takes. Move it with `frozen_clock.advance(days=1)` or `.set(...)`."""
    from agora.core.time import set_clock

    frozen = Clock(TEST_NOW or datetime.now(UTC).replace(microsecond=0))
    set_clock(frozen)
    yield frozen
    set_clock(None)


#: The day from which the agenda tests' fixed dates (December 2026 to 2027) were chosen.
DATES_AS_OF = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def dates_as_of(frozen_clock):
    """The frozen clock on DATES_AS_OF, for tests written with fixed dates: they never pass into the past."""
    return frozen_clock.set(DATES_AS_OF)


@pytest.fixture
def clock(frozen_clock):
    """The frozen clock moved to 10:00 in Paris on a coming Monday (digests, quiet hours, weekdays)."""
    frozen_clock.set(next_monday_ten_in_paris())
    return frozen_clock


# A real SMTP server for mail tests ------------------------------------------------------------


class Collect(Message):
    """Keeps every message the SMTP server receives."""

    def __init__(self):
        super().__init__()
        self.messages = []

    def handle_message(self, message):
        self.messages.append(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp_server():
    handler = Collect()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, handler
    controller.stop()


@pytest.fixture
def smtp_config(app):
    saved = {k: app.config[k] for k in ("SMTP_HOST", "SMTP_PORT", "SMTP_FROM")}
    yield app.config
    app.config.update(saved)
