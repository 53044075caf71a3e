"""What goes in the index, kept fresh after each commit, and rebuilt on demand.

Services announce changes with `after_commit(kind, id, space_id, action)`; as the transaction
commits, `_enqueue` here adds one durable "search.index" job (agora.core.jobs) listing them, so
the job exists exactly when the change does and a crash after the commit loses nothing. The
background process runs the job within a second or so: `run_jobs` reloads each changed item from
the database and writes it to the index in one writer, never inside a request (the web workers
only read the index). An item that is gone, trashed or otherwise unshown is removed.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Flask
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from agora.core import jobs
from agora.core.events import ContentChange, changes_committing
from agora.extensions import db
from agora.search import index

log = logging.getLogger(__name__)


@dataclass
class Entry:
    key: str
    kind: str
    module: str
    space_id: int
    object_id: int
    title: str
    body: str
    date: object
    parent: str = ""

    def fields(self) -> dict:
        return {"key": self.key, "kind": self.kind, "module": self.module, "space_id": str(self.space_id),
                "object_id": self.object_id, "title": self.title, "body": self.body, "date": self.date}


def _key(kind: str, object_id: int) -> str:
    return f"{kind}:{object_id}"


# Builders: object id -> Entry, or None when the item must not be found ------------------------


def _topic(topic_id: int) -> Entry | None:
    from agora.forum.models import Post, Topic

    topic = db.session.get(Topic, topic_id)
    if topic is None:
        return None
    first = db.session.scalar(select(Post).where(Post.topic_id == topic.id, Post.is_first.is_(True)))
    return Entry(_key("forum.topic", topic.id), "forum.topic", "forum", topic.space_id, topic.id, topic.title,
                 first.body if first else "", topic.created_at)


def _post(post_id: int) -> Entry | None:
    from agora.forum.models import Post

    post = db.session.get(Post, post_id)
    if post is None or post.is_first:  # a topic's first post is indexed with its topic
        return None
    return Entry(_key("forum.post", post.id), "forum.post", "forum", post.space_id, post.id, post.topic.title,
                 post.body, post.created_at)


def _event(event_id: int) -> Entry | None:
    from agora.agenda.models import Event

    event = db.session.get(Event, event_id)
    if event is None:
        return None
    return Entry(_key("agenda.event", event.id), "agenda.event", "agenda", event.space_id, event.id, event.title,
                 f"{event.location}\n{event.description}", event.starts_at)


def _document(document_id: int, full: bool = True, trees: dict | None = None) -> Entry | None:
    """A live document, with its version notes and the text inside its current version (unless full is False).

    The text is the one the background process read and kept (`extract_pending`): none yet
    while the version waits for it. `trees` keeps each space's folder tree across calls (a
    reindex reads it once per space)."""
    from agora.documents import services as documents
    from agora.documents.models import Document, DocumentVersion

    document = db.session.get(Document, document_id)
    if document is None or document.deleted_at is not None:
        return None
    trees = {} if trees is None else trees
    if document.space_id not in trees:
        trees[document.space_id] = documents.Tree.load(document.space)
    if not trees[document.space_id].is_live(document.folder_id):
        return None
    if not full:  # to show a hit, its name and place are enough
        return Entry(_key("documents.document", document.id), "documents.document", "documents", document.space_id,
                     document.id, document.name, "", document.updated_at)
    version = db.session.get(DocumentVersion, document.current_version_id)
    notes = " ".join(db.session.scalars(select(DocumentVersion.note).where(DocumentVersion.document_id == document.id)))
    text = (version.extracted_text or "") if version else ""
    return Entry(_key("documents.document", document.id), "documents.document", "documents", document.space_id,
                 document.id, document.name, f"{notes}\n{text}", document.updated_at)


def _task(task_id: int) -> Entry | None:
    from agora.tasks.models import ChecklistItem, Task

    task = db.session.get(Task, task_id)
    if task is None:
        return None
    checklist = " ".join(db.session.scalars(select(ChecklistItem.text).where(ChecklistItem.task_id == task.id)))
    return Entry(_key("tasks.task", task.id), "tasks.task", "tasks", task.space_id, task.id, task.title,
                 f"{task.description}\n{checklist}", task.updated_at)


def _comment(comment_id: int) -> Entry | None:
    from agora.tasks.models import Task, TaskComment

    comment = db.session.get(TaskComment, comment_id)
    if comment is None:
        return None
    task = db.session.get(Task, comment.task_id)
    return Entry(_key("tasks.comment", comment.id), "tasks.comment", "tasks", comment.space_id, comment.id, task.title,
                 comment.body, comment.created_at, parent=_key("tasks.task", task.id))


def _member(membership_id: int) -> Entry | None:
    """A person as every member of the space may see them: nothing kept for admins or nobody."""
    from agora.members.services import can_see, privacy_of
    from agora.spaces.models import Membership

    membership = db.session.scalar(select(Membership).options(selectinload(Membership.user), selectinload(Membership.organisation))
                                   .where(Membership.id == membership_id))
    if membership is None or membership.user.is_disabled:
        return None
    person, audiences = membership.user, privacy_of(membership.user)
    values = {"organisation": membership.organisation.name if membership.organisation else "",
              "function": membership.function or "", "presentation": person.presentation or "",
              "phone": person.phone or "", "email": person.email or ""}
    shown = [v for f, v in values.items() if v and can_see(audiences[f], viewer_role="reader", is_self=False)]
    return Entry(_key("members.member", membership.id), "members.member", "members", membership.space_id, membership.id,
                 person.display_name, "\n".join([person.username, *shown]), membership.created_at)


def _poll(poll_id: int) -> Entry | None:
    from agora.polls.models import Poll, PollOption

    poll = db.session.get(Poll, poll_id)
    if poll is None:
        return None
    labels = " ".join(db.session.scalars(select(PollOption.label).where(PollOption.poll_id == poll.id)))
    return Entry(_key("polls.poll", poll.id), "polls.poll", "polls", poll.space_id, poll.id, poll.question,
                 f"{poll.description}\n{labels}", poll.created_at)


BUILDERS = {"forum.topic": _topic, "forum.post": _post, "agenda.event": _event, "documents.document": _document,
            "tasks.task": _task, "tasks.comment": _comment, "members.member": _member, "polls.poll": _poll}


def _all_ids(space_id: int | None):
    """(kind, id) of every indexable row, of one space or all."""
    from agora.agenda.models import Event
    from agora.documents.models import Document
    from agora.forum.models import Post, Topic
    from agora.polls.models import Poll
    from agora.spaces.models import Membership
    from agora.tasks.models import Task, TaskComment

    for kind, model, extra in (("forum.topic", Topic, None), ("forum.post", Post, Post.is_first.is_(False)),
                               ("agenda.event", Event, None), ("documents.document", Document, Document.deleted_at.is_(None)),
                               ("tasks.task", Task, None), ("tasks.comment", TaskComment, None),
                               ("members.member", Membership, None), ("polls.poll", Poll, None)):
        stmt = select(model.id).order_by(model.id)
        if space_id is not None:
            stmt = stmt.where(model.space_id == space_id)
        if extra is not None:
            stmt = stmt.where(extra)
        for object_id in db.session.scalars(stmt):
            yield kind, object_id


def reindex(space_id: int | None = None, *, read_texts: bool = False) -> int:
    """Rebuild the index from the database (all of it, or one space's part); return the entries.

    With `read_texts` (`agora search reindex`), the text of every version still waiting for it is
    read first, so the rebuilt index lacks nothing; otherwise (a rebuild on demand, a restore)
    those versions stay for the background process.
    """
    if read_texts:
        read_pending_texts(space_id=space_id)
    count = 0
    if space_id is None:
        ix = index.create()
        w = ix.writer(limitmb=128, **index.WRITER_OPTIONS)
    else:
        ix = index.open_index()
        w = ix.writer(timeout=index.WRITE_TIMEOUT, delay=0.05, **index.WRITER_OPTIONS)
        w.delete_by_term("space_id", str(space_id))
    trees: dict = {}
    try:
        for kind, object_id in _all_ids(space_id):
            entry = _document(object_id, trees=trees) if kind == "documents.document" else BUILDERS[kind](object_id)
            if entry is not None:
                w.add_document(**entry.fields())
                count += 1
    except BaseException:
        w.cancel()
        raise
    w.commit()
    if read_texts:
        _mark_indexed(space_id=space_id)
        db.session.commit()
    return count


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
        db.session.execute(update(DocumentVersion).where(DocumentVersion.id == version_id)
                           .values(extracted_text=text).execution_options(synchronize_session=False))
        db.session.commit()
    return len(ids)


def _mark_indexed(version_ids: list[int] | None = None, space_id: int | None = None) -> None:
    from agora.documents.models import DocumentVersion

    stmt = update(DocumentVersion).where(DocumentVersion.text_pending.is_(True),
                                         DocumentVersion.extracted_text.is_not(None))
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
    rows = db.session.execute(_pending().where(DocumentVersion.extracted_text.is_not(None))
                              .with_only_columns(DocumentVersion.id, DocumentVersion.document_id,
                                                 DocumentVersion.space_id).limit(limit)).all()
    if not rows:
        db.session.rollback()
        return 0
    apply([ContentChange("documents.document", document_id, space_id, "updated") for _id, document_id, space_id in rows])
    db.session.rollback()
    _mark_indexed([row.id for row in rows])
    db.session.commit()
    return len(rows)


# Freshness --------------------------------------------------------------------------------------


#: The durable job that brings the index in step with committed changes (agora.core.jobs).
JOB = "search.index"


def _enqueue(session, changes: list[ContentChange]) -> None:
    """Inside the committing transaction: one job for all the changes it indexes."""
    wanted = [[c.kind, c.id, c.space_id, c.action] for c in changes if c.kind in BUILDERS]
    if wanted:
        jobs.enqueue(JOB, {"changes": wanted}, session=session)


def run_jobs(payloads: list[dict]) -> None:
    """The job handler: write every change of these jobs to the index, in one writer."""
    apply([ContentChange(*change) for payload in payloads for change in payload["changes"]])


def apply(changes: list[ContentChange]) -> None:
    """Write these committed changes to the index, in one writer, each key once."""
    from agora.forum.models import Post

    wanted: dict[str, Entry | None] = {}
    for change in dict.fromkeys(changes):
        builder = BUILDERS.get(change.kind)
        if builder is None:
            continue
        key = _key(change.kind, change.id)
        wanted[key] = builder(change.id) if change.action != "deleted" else None
        if change.kind == "forum.post" and wanted[key] is None:
            # A topic's first post is indexed with its topic: keep that in step.
            post = db.session.get(Post, change.id)
            if post is not None and post.is_first:
                wanted[_key("forum.topic", post.topic_id)] = _topic(post.topic_id)
    with index.writer() as w:
        for key, entry in wanted.items():
            w.delete_by_term("key", key)
            if entry is not None:
                w.add_document(**entry.fields())


def forget_space(space_id: int) -> None:
    """Take a deleted space's entries out of the index."""
    try:
        with index.writer() as w:
            w.delete_by_term("space_id", str(space_id))
    except Exception:
        log.exception("search entries of deleted space %s not removed; `agora search reindex` will", space_id)


def init_app(app: Flask) -> None:
    jobs.register(JOB, run_jobs)
    changes_committing.connect(_enqueue, weak=False)
