"""Migrating an empty database to head gives exactly the models' schema, on every backend."""
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from agora.core import schema


def test_migrations_match_the_models(db):
    # The session's database was emptied and migrated to head by the `app` fixture.
    assert schema.current_revision() == schema.head_revision()
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "render_as_batch": True})
        diff = compare_metadata(context, db.metadata)
    assert diff == []


def test_every_space_owned_table_has_an_indexed_non_null_space_id(db):
    from agora.core.tenancy import SpaceScoped

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
            conn.execute(text("INSERT INTO users (id, username, username_key, display_name, is_site_admin, is_disabled,"
                              " session_version, created_at) VALUES (1, 'ancien', 'ancien', 'Ancien', 0, 0, 1, '2026-01-01')"))
            conn.execute(text("INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                              " created_at) VALUES (1, 'vieux', 'Vieux', '', '#000000', '[]', 10, 0, '2026-01-01')"))
            conn.execute(text("INSERT INTO spaces (id, slug, name, description, colour, modules, quota_mb, storage_used,"
                              " created_at) VALUES (2, 'forum', 'Forum', '', '#000000', '[\"forum\"]', 10, 0, '2026-01-01')"))
            conn.execute(text("INSERT INTO memberships (id, space_id, user_id, role, created_at)"
                              " VALUES (1, 1, 1, 'member', '2026-01-01')"))
        upgrade(directory=directory)
        with db_engine(app).connect() as conn:
            row = conn.execute(text("SELECT u.presentation, u.privacy, m.function FROM users u"
                                    " JOIN memberships m ON m.user_id = u.id")).one()
        assert tuple(row) == ("", "{}", "")
        with db_engine(app).connect() as conn:
            modules = dict(conn.execute(text("SELECT slug, modules FROM spaces")).all())
        assert modules == {"vieux": "[]", "forum": '["forum", "polls"]'}
        downgrade(directory=directory, revision="0001")
        db_engine(app).dispose()


def db_engine(app):
    from agora.extensions import db

    return db.engine
