"""Migrating an empty database to head gives exactly the models' schema, on every backend."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from agora import resource_dir
from agora.core import schema


def test_migrations_match_the_models(db):
    # The session's database was emptied and migrated to head by the `app` fixture.
    assert schema.current_revision() == schema.head_revision(resource_dir("migrations"))
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_the_schema_is_read_as_alembic_reads_it(app, db, tmp_path):
    """The server reads where the schema stands without Alembic: the same answers as Alembic's."""
    from alembic.script import ScriptDirectory

    migrate = app.extensions["migrate"]
    scripts = ScriptDirectory.from_config(migrate.migrate.get_config(migrate.directory))
    assert schema.head_revision(resource_dir("migrations")) == scripts.get_current_head() is not None
    with db.engine.connect() as conn:
        assert schema.current_revision() == MigrationContext.configure(conn).get_current_revision()
    # A migration added after the others is the head; one left without a follower beside it is refused.
    versions = tmp_path / "versions"
    versions.mkdir()
    (versions / "0001_a.py").write_text('revision = "0001"\ndown_revision = None\n')
    (versions / "0002_b.py").write_text("revision = '0002'\ndown_revision: str | None = '0001'\n")
    assert schema.head_revision(tmp_path) == "0002"
    (versions / "0003_c.py").write_text('revision = "0003"\ndown_revision = "0001"\n')
    with pytest.raises(RuntimeError, match="several heads"):
        schema.head_revision(tmp_path)


def test_the_server_leaves_alembic_out_of_its_memory(tmp_path):
    import subprocess
    import sys

    code = (
        "import sys; from agora import create_app; "
        "create_app({'SECRET_KEY': 'x'}, migrations=False); "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'mako', 'flask_migrate')))"
    )
    env = {"AGORA_INSTANCE": str(tmp_path), "PATH": "/usr/bin:/bin"}
    found = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def test_every_space_owned_table_has_an_indexed_non_null_space_id(db):
    from agora.spaces.tenancy import SpaceScoped

    scoped = [m.class_ for m in db.Model.registry.mappers if issubclass(m.class_, SpaceScoped)]
    assert len(scoped) >= 10
    for model in scoped:
        column = model.__table__.c.space_id
        assert not column.nullable, model.__tablename__
        assert any(list(index.columns)[0] is column for index in model.__table__.indexes), model.__tablename__
    # Every other table that names a space is deliberately outside a space: "all my spaces" feeds, and
    # notification preferences that hold a person's choice everywhere as well as per space.
    others = {t.name for t in db.metadata.sorted_tables if "space_id" in t.c} - {m.__tablename__ for m in scoped}
    assert others == {"ical_tokens", "notification_preferences"}


def test_upgrading_an_instance_that_has_data(tmp_path):
    """Each migration applies over rows written by the previous schema (defaults for new columns)."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0002")
        with db_engine(app).begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, username, username_key, display_name, is_site_admin, is_disabled,"
                    " session_version, created_at) VALUES (1, 'ancien', 'ancien', 'Ancien', 0, 0, 1, '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                    " created_at) VALUES (1, 'vieux', 'Vieux', '', '#000000', '[]', 10, 0, '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                    " created_at) VALUES (2, 'forum', 'Forum', '', '#000000', '[\"forum\"]', 10, 0, '2026-01-01')"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO memberships (id, space_id, user_id, role, created_at)"
                    " VALUES (1, 1, 1, 'member', '2026-01-01')"
                )
            )
        upgrade(directory=directory)
        with db_engine(app).connect() as conn:
            row = conn.execute(
                text("SELECT u.presentation, u.privacy, m.function FROM users u JOIN memberships m ON m.user_id = u.id")
            ).one()
        assert tuple(row) == ("", "{}", "")
        with db_engine(app).connect() as conn:
            modules = dict(conn.execute(text("SELECT slug, modules FROM spaces")).all())
        assert modules == {"vieux": "[]", "forum": '["forum", "polls"]'}
        downgrade(directory=directory, revision="0001")
        db_engine(app).dispose()


def db_engine(app):
    from agora.extensions import db

    return db.engine


def test_ids_of_deleted_rows_are_never_handed_out_again(app, db, make_space):
    """A purged document's or deleted event's address must never open a newer item (SQLite reused the
    id of the last deleted row: AUTOINCREMENT stops it; PostgreSQL sequences never go back)."""
    from sqlalchemy import text

    from agora.forum.models import ForumCategory

    space = make_space()
    first = ForumCategory(space_id=space.id, name="Propreté", position=1)
    db.session.add(first)
    db.session.commit()
    gone = first.id
    db.session.delete(first)
    db.session.commit()
    second = ForumCategory(space_id=space.id, name="Sécurité", position=1)
    db.session.add(second)
    db.session.commit()
    assert second.id > gone
    if db.engine.dialect.name == "sqlite":
        tables = db.session.execute(text("SELECT name, sql FROM sqlite_master WHERE type = 'table'")).all()
        keyed = [name for name, sql in tables if "id INTEGER NOT NULL" in sql.split(",")[0]]
        assert len(keyed) >= 30
        assert [name for name, sql in tables if name in keyed and "AUTOINCREMENT" not in sql] == []


def test_upgrading_an_old_sqlite_instance_keeps_rows_and_indexes_and_stops_reusing_ids(tmp_path):
    from flask_migrate import upgrade
    from sqlalchemy import text

    from tests.conftest import make_app

    app = make_app(tmp_path, f"sqlite:///{tmp_path / 'old.db'}")
    with app.app_context():
        directory = app.extensions["migrate"].directory
        upgrade(directory=directory, revision="0009")
        engine = db_engine(app)
        with engine.begin() as conn:
            # Tables as releases before 0010 made them: a named key, no AUTOINCREMENT.
            assert (
                "AUTOINCREMENT"
                not in conn.execute(text("SELECT sql FROM sqlite_master WHERE name = 'news_items'")).scalar()
            )
            conn.execute(
                text(
                    "INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                    " created_at) VALUES (1, 'vieux', 'Vieux', '', '#000000', '[]', 10, 0, '2026-01-01')"
                )
            )
            for number in (1, 2):
                conn.execute(
                    text(
                        "INSERT INTO news_items (id, space_id, title, body, is_pinned, created_at,"
                        " updated_at) VALUES (:i, 1, :t, '', 0, '2026-01-01', '2026-01-01')"
                    ),
                    {"i": number, "t": f"Nouvelle {number}"},
                )
        upgrade(directory=directory)
        with engine.begin() as conn:
            schema = dict(
                conn.execute(text("SELECT name, sql FROM sqlite_master WHERE name IN ('spaces', 'news_items')")).all()
            )
            assert all("AUTOINCREMENT" in sql for sql in schema.values())
            assert conn.execute(text("SELECT title FROM news_items ORDER BY id")).scalars().all() == [
                "Nouvelle 1",
                "Nouvelle 2",
            ]
            indexes = (
                conn.execute(
                    text(
                        "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'news_items'"
                        " AND sql IS NOT NULL"
                    )
                )
                .scalars()
                .all()
            )
            assert "ix_news_items_space_id" in indexes
            assert conn.execute(text("PRAGMA foreign_key_check")).all() == []
            conn.execute(text("DELETE FROM news_items WHERE id = 2"))
            conn.execute(
                text(
                    "INSERT INTO news_items (space_id, title, body, is_pinned, created_at, updated_at)"
                    " VALUES (1, 'Nouvelle 3', '', 0, '2026-01-02', '2026-01-02')"
                )
            )
            assert conn.execute(text("SELECT id FROM news_items WHERE title = 'Nouvelle 3'")).scalar() == 3
