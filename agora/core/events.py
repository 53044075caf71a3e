"""Changes announced after commit, for work that must never run inside a request's transaction.

Services call `after_commit("forum.post", post.id, space.id, "created")`. Just before the session
commits, `changes_committing` is sent with the list of them, inside the transaction (the search
index subscribes to it and enqueues a durable job, agora.core.jobs, that commits with the
change); once the session has committed, `content_changed` is sent for each. A rollback drops
them: nothing is announced for a change that did not happen.

The other signals here let a lower layer (spaces) reach a higher one (notifications) without
importing it; they are sent inside the transaction, so what their receivers write commits with it.
"""

from __future__ import annotations

from dataclasses import dataclass

from blinker import Namespace
from sqlalchemy import event
from sqlalchemy.orm import Session

signals = Namespace()
#: Sent with change=ContentChange after the transaction that made the change has committed.
content_changed = signals.signal("content-changed")
#: Sent with session=, changes=[ContentChange...] inside the transaction, just before it commits:
#: what a subscriber adds to that session commits with the change.
changes_committing = signals.signal("changes-committing")

#: Sent by a layer below notifications (the news of a space) when members should hear of something:
#: the sender is the space, the keywords those of `agora.notifications.services.notify`
#: (recipients=None: every member but the actor). The rows are written in the same transaction.
notification_wanted = signals.signal("notification-wanted")
#: Sent when someone leaves a space (sender: the space, user=): what was theirs there goes too.
member_left = signals.signal("member-left")

_PENDING = "agora_pending_changes"


@dataclass(frozen=True)
class ContentChange:
    kind: str  #: e.g. "forum.topic", "forum.post"
    id: int
    space_id: int
    action: str  #: "created", "updated" or "deleted"


def after_commit(kind: str, object_id: int, space_id: int, action: str) -> None:
    """Announce a change once the current transaction commits."""
    from agora.extensions import db

    db.session.info.setdefault(_PENDING, []).append(ContentChange(kind, object_id, space_id, action))


@event.listens_for(Session, "before_commit")
def _announce(session):
    if session.in_nested_transaction():  # a savepoint released: the real commit is still to come
        return
    changes = list(dict.fromkeys(session.info.get(_PENDING, [])))
    if changes:
        changes_committing.send(session, changes=changes)


@event.listens_for(Session, "after_commit")
def _send(session):
    if session.in_nested_transaction():  # a savepoint released (SQLAlchemy calls this for those too): not yet
        return
    changes = session.info.pop(_PENDING, [])
    for change in dict.fromkeys(changes):  # once each, in order
        content_changed.send(change.kind, change=change)


@event.listens_for(Session, "after_soft_rollback")
def _drop(session, previous_transaction):
    if not session.in_transaction() or previous_transaction.parent is None:
        session.info.pop(_PENDING, None)
