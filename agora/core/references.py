"""(kind, id) references that no foreign key can hold, kept from pointing at nothing.

Each module declares its references in agora/modules.py (an attachment of a forum message, the
event a notification mails...). Whenever a flush deletes rows of a table whose rows are targets
(or whose deletion cascades to targets, as a topic's to its messages), the references of the
spaces concerned that no longer find their target in the same space are deleted, or emptied for
those declared `nullify`. The ORM's deletes and bulk `delete()` statements are both seen; a
whole space going takes its references with it through their own `space_id`.
"""

from __future__ import annotations

from functools import cache

from flask import has_app_context
from sqlalchemy import Table, delete, event, exists, select, update
from sqlalchemy.orm import ORMExecuteState, Session

from agora.core import registry
from agora.core.registry import Reference

_SPACES = "agora_reference_spaces"


def _holds_dangling(ref: Reference):
    """The condition on holder rows whose target is missing from their space."""
    holder, target = ref.holder, ref.target
    column = getattr(holder, ref.id_column)
    missing = ~exists().where(target.id == column, target.space_id == holder.space_id)
    condition = column.is_not(None) & missing
    if ref.kind_column is not None:
        condition = (getattr(holder, ref.kind_column) == ref.kind) & condition
    return condition


def dangling(ref: Reference) -> list[int]:
    """Ids of holder rows whose target is gone (the tests expect none)."""
    from agora.extensions import db

    return list(db.session.scalars(select(ref.holder.id).where(_holds_dangling(ref)).order_by(ref.holder.id)))


def _sweep(session: Session, refs: list[Reference], space_ids: set[int]) -> None:
    for ref in refs:
        holder = ref.holder
        condition = holder.space_id.in_(sorted(space_ids)) & _holds_dangling(ref)
        if ref.nullify:
            stmt = update(holder).where(condition).values({ref.id_column: None})
        else:
            stmt = delete(holder).where(condition)
        session.execute(stmt.execution_options(synchronize_session=False, agora_reference_sweep=True))


@cache
def _cascades(table: Table) -> frozenset[str]:
    """Names of the tables whose rows go when rows of `table` go (itself, and ON DELETE CASCADE children)."""
    found, todo = {table.name}, [table]
    while todo:
        parent = todo.pop()
        for child in parent.metadata.tables.values():
            if child.name in found:
                continue
            if any(fk.ondelete == "CASCADE" and fk.column.table is parent for fk in child.foreign_keys):
                found.add(child.name)
                todo.append(child)
    return frozenset(found)


def _refs_hit_by(table: Table) -> list[Reference]:
    if not has_app_context():
        return []
    reached = _cascades(table)
    return [r for r in registry.references() if r.target.__table__.name in reached]


def _note(session: Session, refs: list[Reference], space_ids) -> None:
    pending = session.info.setdefault(_SPACES, {})
    for ref in refs:
        pending.setdefault(ref, set()).update(i for i in space_ids if i is not None)


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, _context, _instances) -> None:
    for instance in session.deleted:
        table = getattr(type(instance), "__table__", None)
        if table is None or not hasattr(instance, "space_id"):
            continue
        refs = _refs_hit_by(table)
        if refs:
            _note(session, refs, {instance.space_id})


@event.listens_for(Session, "after_flush_postexec")
def _after_flush(session: Session, _context) -> None:
    pending = session.info.pop(_SPACES, None)
    for ref, space_ids in (pending or {}).items():
        if space_ids:
            _sweep(session, [ref], space_ids)


@event.listens_for(Session, "do_orm_execute")
def _bulk_delete(state: ORMExecuteState):
    """A `delete(Model).where(...)`: note its rows' spaces first, sweep once it ran."""
    if not state.is_delete or state.execution_options.get("agora_reference_sweep"):
        return None
    table = state.statement.table
    refs = _refs_hit_by(table) if isinstance(table, Table) else []
    if not refs or "space_id" not in table.c:
        return None
    where = state.statement.whereclause
    spaces = select(table.c.space_id).distinct()
    space_ids = set(state.session.scalars(spaces.where(where) if where is not None else spaces))
    result = state.invoke_statement()
    if space_ids:
        _sweep(state.session, refs, space_ids)
    return result
