"""What goes in the index, kept fresh after each commit, and rebuilt on demand.

Services announce changes with `after_commit(kind, id, space_id, action)`; as the transaction
commits, `_enqueue` here adds one durable "search.index" job (agora.core.jobs) listing them, so
the job exists exactly when the change does and a crash after the commit loses nothing. The
background process runs the job within a second or so: `run_jobs` reloads each changed item from
the database and writes it to the index in one writer, never inside a request (the web workers
only read the index). An item that is gone, trashed or otherwise unshown is removed.
"""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select, update

from agora.core import jobs, registry
from agora.core.events import ContentChange, changes_committing
from agora.core.registry import Entry
from agora.core.registry import entry_key as _key
from agora.extensions import db
from agora.search import backend as engines
from agora.search.backend import backend


def _kinds():
    return registry.search_kinds()


def _all_ids(space_id: int | None):
    """(kind, id) of every indexable row, of one space or all, kind by kind as the registry lists them."""
    for kind in _kinds().values():
        stmt = select(kind.model.id).order_by(kind.model.id)
        if space_id is not None:
            stmt = stmt.where(kind.model.space_id == space_id)
        if kind.where is not None:
            stmt = stmt.where(kind.where())
        for object_id in db.session.scalars(stmt):
            yield kind.kind, object_id


def reindex(space_id: int | None = None, *, read_texts: bool = False) -> int:
    """Rebuild the index from the database (every space's, or one space's); return the entries.

    With `read_texts` (`agora search reindex`), the text of every version still waiting for it is
    read first, so the rebuilt index lacks nothing; otherwise (a rebuild on demand, a restore)
    those versions stay for the background process.
    """
    from agora.spaces.models import Space

    if read_texts:
        read_pending_texts(space_id=space_id)
    engine = backend()
    if space_id is None:
        engine.reset()
        spaces = db.session.scalars(select(Space.id).order_by(Space.id)).all()
    else:
        spaces = [space_id]
    count = sum(engine.replace_space(one, _entries(one)) for one in spaces)
    if read_texts:
        _mark_indexed(space_id=space_id)
        db.session.commit()
    return count


def _entries(space_id: int):
    """The entry of every indexable row of the space."""
    trees: dict = {}
    kinds = _kinds()
    for kind, object_id in _all_ids(space_id):
        entry = kinds[kind].build(object_id, trees=trees)
        if entry is not None:
            yield entry


# Text inside documents: read by the background process -----------------------------------------


def _pending(space_id: int | None = None):
    from agora.documents.models import DocumentVersion

    stmt = select(DocumentVersion).where(DocumentVersion.text_pending.is_(True)).order_by(DocumentVersion.id)
    return stmt if space_id is None else stmt.where(DocumentVersion.space_id == space_id)


def read_pending_texts(limit: int | None = None, space_id: int | None = None) -> int:
    """Read and keep the text of versions still waiting for it, committing after each; return how many.

    Reading is bounded (agora.search.extract), and a version whose text is kept is not read again."""
    from agora.documents import storage
    from agora.documents.models import DocumentVersion
    from agora.search.extract import has_text, text_of

    stmt = _pending(space_id).where(DocumentVersion.extracted_text.is_(None))
    ids = list(db.session.scalars(stmt.with_only_columns(DocumentVersion.id).limit(limit)))
    db.session.rollback()  # no transaction stays open while a file is read
    for version_id in ids:
        version = db.session.get(DocumentVersion, version_id)
        if version is None:  # purged meanwhile
            continue
        path, content_type = storage.path_for(version.space_id, version.storage_name), version.content_type
        db.session.rollback()
        text = text_of(path, content_type) if has_text(content_type) else ""
        db.session.execute(
            update(DocumentVersion)
            .where(DocumentVersion.id == version_id)
            .values(extracted_text=text)
            .execution_options(synchronize_session=False)
        )
        db.session.commit()
    return len(ids)


def _mark_indexed(version_ids: list[int] | None = None, space_id: int | None = None) -> None:
    from agora.documents.models import DocumentVersion

    stmt = update(DocumentVersion).where(
        DocumentVersion.text_pending.is_(True), DocumentVersion.extracted_text.is_not(None)
    )
    if version_ids is not None:
        stmt = stmt.where(DocumentVersion.id.in_(version_ids))
    if space_id is not None:
        stmt = stmt.where(DocumentVersion.space_id == space_id)
    db.session.execute(stmt.values(text_pending=False).execution_options(synchronize_session=False))


def extract_pending(limit: int = 20) -> int:
    """The background step: read the text of up to `limit` waiting versions, index it, clear their marks.

    Each step is its own commit and the mark goes last, so a crash at any point only means the
    work is done again on the next round. Returns how many versions were indexed.
    """
    from agora.documents.models import DocumentVersion

    read_pending_texts(limit)
    rows = db.session.execute(
        _pending()
        .where(DocumentVersion.extracted_text.is_not(None))
        .with_only_columns(DocumentVersion.id, DocumentVersion.document_id, DocumentVersion.space_id)
        .limit(limit)
    ).all()
    if not rows:
        db.session.rollback()
        return 0
    apply(
        [ContentChange("documents.document", document_id, space_id, "updated") for _id, document_id, space_id in rows]
    )
    db.session.rollback()
    _mark_indexed([row.id for row in rows])
    db.session.commit()
    return len(rows)


# Freshness --------------------------------------------------------------------------------------


#: The durable job that brings the index in step with committed changes (agora.core.jobs).
JOB = "search.index"


def _enqueue(session, changes: list[ContentChange]) -> None:
    """Inside the committing transaction: one job for all the changes it indexes."""
    wanted = [[c.kind, c.id, c.space_id, c.action] for c in changes if c.kind in _kinds()]
    if wanted:
        jobs.enqueue(JOB, {"changes": wanted}, session=session)


def run_jobs(payloads: list[dict]) -> None:
    """The job handler: write every change of these jobs to the index, in one writer."""
    apply([ContentChange(*change) for payload in payloads for change in payload["changes"]])


def apply(changes: list[ContentChange]) -> None:
    """Write these committed changes to their spaces' indexes, one writer per space, each key once."""
    kinds = _kinds()
    wanted: dict[int, dict[str, Entry | None]] = {}
    for change in dict.fromkeys(changes):
        kind = kinds.get(change.kind)
        if kind is None:
            continue
        key = _key(change.kind, change.id)
        space = wanted.setdefault(int(change.space_id), {})
        space[key] = kind.build(change.id) if change.action != "deleted" else None
        if space[key] is None and kind.related is not None:
            # An item indexed with another (a topic's first post), of the same space: keep it in step.
            for other, other_id in kind.related(change.id):
                space[_key(other, other_id)] = kinds[other].build(other_id)
    engine = backend()
    for space_id, entries in wanted.items():
        engine.write(space_id, entries)


def forget_space(space_id: int) -> None:
    """Remove a deleted space's entries."""
    backend().forget_space(space_id)


def init_app(app: Flask) -> None:
    engines.init_app(app)
    jobs.register(JOB, run_jobs)
    changes_committing.connect(_enqueue, weak=False)
