"""The `agora` command: thin wrappers over services, one clear sentence on failure."""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import socket
import sys
from contextlib import contextmanager
from pathlib import Path

import click
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from agora import resource_dir
from agora.config import CONFIG_FILE_NAMES, ConfigError, instance_path, load_settings


class AgoraGroup(click.Group):
    """A command group that turns known failures into one sentence on stderr and exit 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except ConfigError as exc:
            raise click.ClickException(str(exc)) from None
        except OperationalError as exc:
            raise click.ClickException(f"The database cannot be reached: {_first_line(exc.orig)}") from None
        except SQLAlchemyError as exc:
            raise click.ClickException(f"Database error: {_first_line(exc)}") from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}.") from None


def _first_line(exc) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else exc.__class__.__name__


@contextmanager
def app_context():
    """Build the app and push its context for a command."""
    from agora import create_app
    from agora.extensions import db as database

    app = create_app()
    # A request context on the public address, so links written by commands are right.
    with app.test_request_context("/", base_url=app.config["BASE_URL"]):
        try:
            yield app
        finally:
            database.session.remove()
            database.engine.dispose()


@click.group(cls=AgoraGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="agora", prog_name="agora")
def main():
    """Agora: collaborative workspaces for a neighbourhood.

    The instance folder is AGORA_INSTANCE (default ./instance).
    """


def _check_writable(folder: Path) -> None:
    """Refuse early, with one sentence, an instance folder that cannot be created or written."""
    if folder.exists() and not folder.is_dir():
        raise click.ClickException(f"{folder} exists and is not a folder.")
    existing = folder if folder.exists() else next((p for p in folder.parents if p.exists()), folder.anchor)
    try:
        probe = Path(existing) / f".agora-write-test-{os.getpid()}"
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        raise click.ClickException(
            f"The instance folder {folder} cannot be written ({exc.strerror}): check its path and permissions."
        ) from None


def _check_database(url: str) -> None:
    """Connect once to a server database before anything is written."""
    if url.startswith("sqlite"):
        return
    from sqlalchemy import create_engine, text

    engine = create_engine(url, connect_args={"connect_timeout": 5} if url.startswith("postgresql") else {})
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    finally:
        engine.dispose()


@main.command()
def init():
    """Create the instance: config with a random secret key, database at the latest schema, first admin.

    Safe to run again: it changes only what is missing and says what it did.
    """
    folder = instance_path()
    settings = load_settings()
    _check_writable(folder)
    _check_database(settings["SQLALCHEMY_DATABASE_URI"])

    created_folder = not folder.exists()
    config_path = next((folder / n for n in CONFIG_FILE_NAMES if (folder / n).is_file()), None)
    wrote_config = False
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if config_path is None:
            config_path = folder / "agora.toml"
            config_path.write_text(
                "# Agora instance configuration; AGORA_* environment variables override it.\n"
                f'secret_key = "{secrets.token_urlsafe(48)}"\n',
                encoding="utf-8",
            )
            config_path.chmod(0o600)
            wrote_config = True
            click.echo(f"Created {config_path} with a new secret key.")
        with app_context() as app:
            changed = _upgrade_database(app)
            from agora.auth import services as auth_services

            admin = auth_services.ensure_first_admin()
            if admin is not None:
                admin = (admin[0].username, admin[1])
            db_session_commit()
            from agora.search import indexing
            from agora.search.backend import backend

            if not backend().is_built():  # built now from what the database holds, not on a first page
                indexing.reindex()
                changed = True
    except BaseException:
        if created_folder:
            shutil.rmtree(folder, ignore_errors=True)
        elif wrote_config:
            config_path.unlink(missing_ok=True)
        raise
    if admin is not None:
        username, password = admin
        click.echo(f"Created the hosting admin account {username!r} with password: {password}")
        click.echo("Write it down now: it is shown only once. Change it from your profile.")
    if not (wrote_config or changed or admin):
        click.echo(f"Nothing to do: the instance in {folder} is already set up.")
    else:
        click.echo(f"Instance ready in {folder}.")


def _upgrade_database(app) -> bool:
    """Upgrade the database to the latest migration; return whether anything ran."""
    from flask_migrate import upgrade

    from agora.core import schema

    head = schema.head_revision(resource_dir("migrations"))
    if schema.current_revision() == head:
        click.echo("Database already at the latest version.")
        return False
    upgrade(directory=app.extensions["migrate"].directory)
    click.echo(f"Database upgraded to version {head}.")
    return True


def db_session_commit() -> None:
    from agora.extensions import db as database

    database.session.commit()


@main.group()
def db():
    """Database schema commands."""


@db.command("upgrade")
def db_upgrade():
    """Apply the migrations that are missing."""
    with app_context() as app:
        _upgrade_database(app)


@db.command("current")
def db_current():
    """Show the database's schema version and the latest one."""
    from agora.core import schema

    with app_context():
        head = schema.head_revision(resource_dir("migrations"))
        click.echo(f"database: {schema.current_revision() or 'empty'}; latest: {head}")


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def base_url_mismatch(base_url: str, port: int) -> str | None:
    """A warning when the links in mails would point at this machine on another port than the
    server's, None otherwise (behind a proxy on another host, a different port is normal)."""
    from urllib.parse import urlsplit

    parts = urlsplit(base_url)
    link_port = parts.port or (443 if parts.scheme == "https" else 80)
    if parts.hostname in ("localhost", "127.0.0.1", "::1") and link_port != port:
        return (
            f"Warning: links in mails and pages point to {base_url}, but the server listens on port {port}: "
            f"set AGORA_BASE_URL (e.g. http://{parts.hostname}:{port})."
        )
    return None


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535), help="Port to listen on.")
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes. Default: 1 with SQLite (one queue of writers, served in turn, and less "
    "memory), 2 with PostgreSQL.",
)
@click.option("--threads", type=click.IntRange(1, 64), help="Threads per worker.", default=4, show_default=True)
@click.option(
    "--mail-sender/--no-mail-sender",
    default=True,
    show_default=True,
    help="Run the mail sender and background jobs beside the server (turn off when cron runs "
    "`agora mail send`, `agora jobs run` and `agora search extract`).",
)
def serve(host, port, workers, threads, mail_sender):
    """Run the production server (gunicorn). Requests are logged to standard output; SIGTERM stops it cleanly."""
    from agora import create_app
    from agora.core import schema
    from agora.core.server import run_server

    app = create_app(migrations=False)  # Alembic would stay in every server process's memory
    with app.app_context():
        if schema.current_revision() != schema.head_revision(resource_dir("migrations")):
            raise click.ClickException("The database is not at the latest version: run `agora db upgrade` first.")
        from agora.extensions import db as database
        from agora.search.backend import backend

        backend().prepare()  # rebuilt here, once, if missing or from an older version: not by every worker

        on_sqlite = database.engine.dialect.name == "sqlite"
        database.engine.dispose()
    # SQLite has one writer: between the threads of a process writers go in turn (agora.core.writegate),
    # between processes they race in SQLite's busy wait, where a waiter can lose its turn for seconds.
    workers = workers or (1 if on_sqlite else 2)
    if not _port_is_free(host, port):
        raise click.ClickException(f"Port {port} on {host} is already in use: stop the other server or choose --port.")
    click.echo(
        f"Agora listening on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''} × {threads} threads)."
        " Stop with Ctrl+C."
    )
    click.echo(
        f"Links point to {app.config['BASE_URL']}; requests for hosts other than "
        f"{', '.join(app.config['ALLOWED_HOSTS'])} are refused (AGORA_BASE_URL, AGORA_ALLOWED_HOSTS)."
    )
    warning = base_url_mismatch(app.config["BASE_URL"], port)
    if warning:
        click.echo(warning, err=True)
    sys.stdout.flush()
    from agora.core.server import prepare
    from agora.notifications import sender

    prepare(app)
    background = []  # one for all workers, forked by the master once it is set up

    def start_background():
        background.append(sender.start_beside(app, jobs=_background_jobs()))

    try:
        run_server(
            app,
            host=host,
            port=port,
            workers=workers,
            threads=threads,
            when_ready=start_background if mail_sender else None,
        )
    finally:
        for pid in background:
            sender.stop(pid)


def _background_jobs():
    """What the background process does besides the mail: work kept out of requests."""
    from agora.search import indexing

    return (indexing.extract_pending, _rerender_stale_html)


def _rerender_stale_html() -> int:
    """Stored renderings from an older renderer, rendered again: one batch, one commit."""
    from agora.extensions import db as database
    from agora.forum.services import rerender_stale_posts

    count = rerender_stale_posts()
    database.session.commit()
    return count


def _fail_on_service_error(fn):
    """Turn a service's refusal into one sentence on stderr."""
    from functools import wraps

    from agora.core.services import ServiceError

    @wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except ServiceError as exc:
            raise click.ClickException(str(exc.message)) from None

    return wrapper


def _account(username: str):
    """The account with that username, or one sentence on stderr."""
    from agora.auth.services import get_user_by_username

    found = get_user_by_username(username)
    if found is None:
        raise click.ClickException(f"No account is named {username!r}.")
    return found


def _space(slug: str):
    """The space with that slug, or one sentence on stderr."""
    from agora.spaces.services import get_space_by_slug

    found = get_space_by_slug(slug)
    if found is None:
        raise click.ClickException(f"No space has the slug {slug!r}.")
    return found


@main.group()
def user():
    """Accounts."""


def _read_password(password):
    """The password given with --password, else typed twice at a terminal, else one line of stdin."""
    if password is not None:
        return password
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\n")


@user.command("create")
@click.argument("username")
@click.option("--email", default=None, help="E-mail address (optional).")
@click.option("--name", "display_name", default=None, help="Name shown to others (default: the username).")
@click.option("--site-admin", is_flag=True, help="Make this account a hosting admin.")
@click.option("--password", default=None, help="The password; read from standard input when omitted.")
@_fail_on_service_error
def user_create(username, email, display_name, site_admin, password):
    """Create an account (password from --password or standard input)."""
    from agora.auth import services
    from agora.extensions import db as database

    password = _read_password(password)
    with app_context():
        created = services.create_user(
            username, password, display_name=display_name, email=email, is_site_admin=site_admin
        )
        services.audit(
            "account.created", None, target=created.username, details={"site_admin": site_admin, "via": "cli"}
        )
        database.session.commit()
        click.echo(f"Created account {created.username}{' (hosting admin)' if site_admin else ''}.")


@user.command("set-password")
@click.argument("username")
@click.option("--password", default=None, help="The new password; read from standard input when omitted.")
@_fail_on_service_error
def user_set_password(username, password):
    """Give an account a new password (its logins end; its setup and reset links stop working)."""
    from agora.auth import services
    from agora.extensions import db as database

    password = _read_password(password)
    with app_context():
        found = _account(username)
        services.set_password(found, password)
        services.audit("password.changed", None, target=found.username, details={"via": "cli"})
        database.session.commit()
        click.echo(f"New password set for {found.username}.")


@user.command("list")
def user_list():
    """List every account."""
    from sqlalchemy import select

    from agora.auth.models import User
    from agora.extensions import db as database

    with app_context():
        for u in database.session.scalars(select(User).order_by(User.username_key)):
            flags = ", ".join(
                f
                for f, on in (
                    ("hosting admin", u.is_site_admin),
                    ("disabled", u.is_disabled),
                    ("not set up", u.password_hash is None),
                )
                if on
            )
            click.echo(f"{u.username}\t{u.display_name}\t{u.email or '-'}\t{flags}")


@user.command("disable")
@click.argument("username")
def user_disable(username):
    """Disable an account; its sessions end at once."""
    from agora.auth import services
    from agora.extensions import db as database

    with app_context():
        found = _account(username)
        services.disable_user(found, actor=None, via="cli")
        database.session.commit()
        click.echo(f"Disabled {found.username}.")


@user.command("enable")
@click.argument("username")
def user_enable(username):
    """Let a disabled account log in again."""
    from agora.auth import services
    from agora.extensions import db as database

    with app_context():
        found = _account(username)
        services.enable_user(found, actor=None, via="cli")
        database.session.commit()
        click.echo(f"Enabled {found.username}.")


@main.group()
def space():
    """Spaces."""


@space.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The space's name, e.g. 'Conseil citoyen des Tilleuls'.")
@click.option("--admin", "admin_name", default=None, help="Username of its first space admin.")
@click.option(
    "--quota", "quota_mb", default=1024, show_default=True, type=click.IntRange(1), help="Storage quota in MB."
)
@_fail_on_service_error
def space_create(slug, name, admin_name, quota_mb):
    """Create a space, optionally with its first admin."""
    from agora.extensions import db as database
    from agora.spaces import services

    with app_context():
        admin = _account(admin_name) if admin_name else None
        created = services.create_space(slug, name, actor=None, admin=admin, quota_mb=quota_mb)
        database.session.commit()
        click.echo(f"Created space /s/{created.slug}/ ({created.name}).")


@space.command("list")
def space_list():
    """List every space with its member count."""
    from sqlalchemy import func, select

    from agora.extensions import db as database
    from agora.spaces.models import Membership, Space

    with app_context():
        counts = dict(
            database.session.execute(select(Membership.space_id, func.count()).group_by(Membership.space_id)).all()
        )
        for s in database.session.scalars(select(Space).order_by(Space.slug)):
            state = "archived" if s.is_archived else "open"
            click.echo(f"{s.slug}\t{s.name}\t{counts.get(s.id, 0)} members\t{state}")


@space.command("archive")
@click.argument("slug")
def space_archive(slug):
    """Archive a space: members no longer see it; nothing is deleted."""
    from agora.extensions import db as database
    from agora.spaces import services

    with app_context():
        found = _space(slug)
        services.archive_space(found, actor=None)
        database.session.commit()
        click.echo(f"Archived /s/{found.slug}/.")


@space.command("add-member")
@click.argument("slug")
@click.argument("username")
@click.option("--role", default="member", show_default=True, type=click.Choice(["admin", "member", "reader"]))
@_fail_on_service_error
def space_add_member(slug, username, role):
    """Give an account a role in a space."""
    from agora.extensions import db as database
    from agora.spaces import services

    with app_context():
        found, account = _space(slug), _account(username)
        services.add_member(found, account, role, actor=None)
        database.session.commit()
        click.echo(f"{account.username} is now {role} of /s/{found.slug}/.")


@main.command()
@click.option(
    "--admin",
    "admin_name",
    default="admin",
    show_default=True,
    help="Account made admin of the demo spaces, so it can show them.",
)
@click.option(
    "--spaces",
    type=click.IntRange(1, 500),
    default=None,
    help="Instead of the three hand-written spaces, generate this many (quartier-01...) for benchmarks.",
)
@click.option(
    "--scale",
    type=click.FloatRange(0.01, 100),
    default=1.0,
    show_default=True,
    help="With --spaces: content per space, 1 = 40 topics, 1,000 replies, 200 events, 334 documents...",
)
@_fail_on_service_error
def demo(admin_name, spaces, scale):
    """Fill demo spaces with realistic French content (skips the spaces that already exist)."""
    from agora.extensions import db as database

    if spaces is not None:
        import time

        from agora import scale as generated
        from agora.spaces.services import get_space_by_slug

        with app_context():
            if get_space_by_slug("quartier-01") is not None:
                raise click.ClickException("Generated spaces already exist here: use a new instance.")
            began = time.perf_counter()
            made = generated.seed(spaces, scale)
            database.session.commit()
        counts = ", ".join(f"{n} {key}" for key, n in made.counts.items())
        click.echo(
            f"Generated {len(made.spaces)} spaces and {made.people} people ({counts}) in "
            f"{time.perf_counter() - began:.1f} s. Their password: {generated.PASSWORD!r}. "
            "Run `agora search reindex` to make them searchable."
        )
        return
    from agora import demo as demo_data

    with app_context():
        created = demo_data.create_demo(admin_name)
        database.session.commit()
    if created:
        click.echo(f"Demo spaces created: {', '.join('/s/' + s + '/' for s in created)}")
    else:
        click.echo("Nothing to do: the demo spaces already exist.")


@main.group()
def mail():
    """The outgoing mail outbox."""


@mail.command("send")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 10_000), help="Messages at most.")
@click.option("--watch", is_flag=True, help="Keep running: a round every few seconds until stopped.")
@click.option(
    "--interval",
    default=5.0,
    show_default=True,
    type=click.FloatRange(0.1, 3600),
    help="Seconds between rounds with --watch.",
)
def mail_send(limit, watch, interval):
    """Write the reset links asked for and the notification mails due, then send the outbox (from cron: every minute)."""
    from agora import create_app
    from agora.auth.services import send_reset_mails
    from agora.core import mail as outbox
    from agora.extensions import db as database
    from agora.notifications import sender
    from agora.notifications.mails import compose_due

    if watch:
        logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [mail] %(message)s")
        sender.watch(create_app(migrations=False), interval=interval, jobs=_background_jobs())
        return
    with app_context() as app:
        if not app.config["SMTP_HOST"]:
            raise click.ClickException("No SMTP server is configured: set AGORA_SMTP_HOST (and AGORA_SMTP_FROM).")
        written = send_reset_mails()
        database.session.commit()
        written += compose_due()
        report = outbox.send_pending(limit)
    click.echo(f"written {written}, sent {report.sent}, to retry {report.retried}, given up {report.failed}")


@mail.command("status")
def mail_status():
    """Show how many messages are pending, being sent, sent and failed."""
    from agora.core import mail as outbox

    with app_context():
        counts = outbox.outbox_counts()
    click.echo(", ".join(f"{name} {count}" for name, count in counts.items()))


@main.group()
def documents():
    """Stored files: consistency check and trash expiry."""


@documents.command("check")
@click.option("--fix", is_flag=True, help="Remove orphan files, forget missing ones, recount usage.")
def documents_check(fix):
    """Compare the files on disk with the database (exit 1 when something is wrong and not fixed)."""
    from agora.documents import services
    from agora.extensions import db as database

    with app_context():
        report = services.check(fix=fix)
        database.session.commit()
    for path in report.orphans:
        click.echo(f"orphan file (no version row): {path}")
    for path in report.temporary:
        click.echo(f"stale temporary file: {path}")
    for space_id, version_id, name in report.missing:
        click.echo(f"missing file: space {space_id}, version {version_id} ({name})")
    for space_id, recorded, counted in report.usage:
        click.echo(f"usage of space {space_id}: recorded {recorded} bytes, counted {counted} bytes")
    if report.clean:
        click.echo("files and database agree")
    elif fix:
        click.echo("fixed")
    else:
        raise SystemExit(1)


@documents.command("purge")
def documents_purge():
    """Remove what has waited more than 30 days in the trash (run it from cron, e.g. daily)."""
    from sqlalchemy import select

    from agora.documents import services
    from agora.spaces.models import Space

    freed = 0
    with app_context():
        from agora.extensions import db as database

        for space in database.session.scalars(select(Space).order_by(Space.id)).all():
            freed += services.purge_expired(space, services.Tree.load(space))
        database.session.commit()
    click.echo(f"freed {freed} bytes")


@main.group()
def search():
    """The full-text search index."""


@search.command("reindex")
@click.option("--space", "slug", default=None, help="Only this space (by its short address).")
def search_reindex(slug):
    """Rebuild the search index from the database (all of it, or one space's part)."""
    import time

    from agora.search.indexing import reindex

    with app_context():
        space_id = _space(slug).id if slug else None
        began = time.perf_counter()
        count = reindex(space_id, read_texts=True)
    click.echo(f"indexed {count} items in {time.perf_counter() - began:.1f} s")


@search.command("extract")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000), help="Versions at most.")
def search_extract(limit):
    """Read and index the text inside documents uploaded since (from cron with `serve --no-mail-sender`)."""
    from agora.search.indexing import extract_pending

    with app_context():
        count = extract_pending(limit)
    click.echo(f"read the text of {count} document versions")


@main.group()
def jobs():
    """Durable background jobs (search indexing...), run by `agora serve`'s background process."""


@jobs.command("run")
def jobs_run():
    """Run the jobs due now (from cron with `serve --no-mail-sender`, or after `agora demo`)."""
    from agora.core import jobs as durable

    with app_context():
        done = durable.run_all()
        left = durable.counts()
    click.echo(f"ran {done} jobs; {left['pending']} waiting for a retry, {left['failed']} given up")


@main.command()
@click.argument("target", type=click.Path(dir_okay=False, path_type=Path))
def backup(target):
    """Write the whole instance (database, files, configuration) to TARGET, a .tar.gz, while it runs."""
    from agora import backup as backups

    with app_context():
        try:
            manifest = backups.backup(target)
        except backups.BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"backup written to {target}: database and {manifest['files']} files")


@main.command()
@click.argument("source", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def restore(source):
    """Restore a backup into this instance, which must be empty (a new folder and database)."""
    from agora import backup as backups

    try:
        backups.take_config(source, instance_path())
    except backups.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    with app_context():
        try:
            manifest = backups.restore(source)
        except backups.BackupError as exc:
            raise click.ClickException(str(exc)) from None
    click.echo(f"restored {source}: database, {manifest['files']} files, {manifest['indexed']} items indexed")
