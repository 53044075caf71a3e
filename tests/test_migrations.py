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
    for table in db.metadata.sorted_tables:
        if "space_id" not in table.c:
            continue
        column = table.c.space_id
        assert not column.nullable, table.name
        assert any(list(index.columns)[0] is column for index in table.indexes), table.name
