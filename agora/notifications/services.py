"""Who hears about what, and when: notification rows, preferences, grouping and digests.

A service that changes something calls `notify` in the same transaction: one row per person is
written with the delivery their preferences choose (the person's choice for the space, else
their choice everywhere, else the space's default, else the default its module declares). Rows to be mailed
carry `mail_due_at`: for "now", ten minutes after the group's latest item and at most an hour
after its first, so a burst of replies makes one mail; for digests, the next morning (or Monday
morning) in the person's time zone. `compose_due` turns due rows into outbox messages, claiming
them in the same transaction, so a crash writes either both or neither.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import bindparam, delete, func, select, update

from agora.auth.models import User
from agora.core import registry
from agora.core.events import member_left, notification_wanted
from agora.core.richtext import markdown_text
from agora.core.time import utcnow
from agora.extensions import db
from agora.notifications.models import DELIVERIES, Notification, NotificationPreference
from agora.spaces.models import MODULES, Membership, Space

#: A group is mailed once it has been quiet this long...
QUIET = timedelta(minutes=10)
#: ...or this long after its first item, whichever comes first.
MAX_WAIT = timedelta(hours=1)
#: Digests leave at this local hour; the weekly one on Mondays.
DIGEST_HOUR = time(7, 0)
EXCERPT_LENGTH = 300


# Preferences ---------------------------------------------------------------------------------


def deliveries_for(space: Space, kind: str, user_ids: Iterable[int]) -> dict[int, str]:
    """The delivery each person gets for `kind` in `space`, in one query."""
    user_ids = list(user_ids)
    rows = (
        db.session.execute(
            select(
                NotificationPreference.user_id, NotificationPreference.space_id, NotificationPreference.delivery
            ).where(
                NotificationPreference.kind == kind,
                (
                    (NotificationPreference.user_id.in_(user_ids))
                    & ((NotificationPreference.space_id == space.id) | NotificationPreference.space_id.is_(None))
                )
                | ((NotificationPreference.user_id.is_(None)) & (NotificationPreference.space_id == space.id)),
            )
        ).all()
        if user_ids
        else []
    )
    space_default = next((d for u, s, d in rows if u is None), registry.notification_kinds()[kind].default)
    general = {u: d for u, s, d in rows if u is not None and s is None}
    override = {u: d for u, s, d in rows if u is not None and s is not None}
    return {uid: override.get(uid) or general.get(uid) or space_default for uid in user_ids}


def preferences_of(user: User | None, space: Space | None) -> dict[str, str | None]:
    """The stored choices of one scope (user everywhere, user in a space, a space's defaults); None: not chosen."""
    stmt = select(NotificationPreference.kind, NotificationPreference.delivery)
    stmt = stmt.where(NotificationPreference.user_id == user.id if user else NotificationPreference.user_id.is_(None))
    stmt = stmt.where(
        NotificationPreference.space_id == space.id if space else NotificationPreference.space_id.is_(None)
    )
    chosen = dict(db.session.execute(stmt).all())
    return {kind: chosen.get(kind) for kind in registry.notification_kinds()}


def save_preferences(user: User | None, space: Space | None, choices: dict[str, str | None]) -> None:
    """Replace the choices of one scope; a kind mapped to None (or left out) follows the level above."""
    if user is None and space is None:
        raise ValueError("a preference belongs to a person, a space or both")
    stmt = delete(NotificationPreference)
    stmt = stmt.where(NotificationPreference.user_id == user.id if user else NotificationPreference.user_id.is_(None))
    stmt = stmt.where(
        NotificationPreference.space_id == space.id if space else NotificationPreference.space_id.is_(None)
    )
    db.session.execute(stmt)
    for kind in registry.notification_kinds():
        delivery = choices.get(kind)
        if delivery is None:
            continue
        if delivery not in DELIVERIES:
            raise ValueError(f"unknown delivery {delivery!r}")
        db.session.add(
            NotificationPreference(
                user_id=user.id if user else None, space_id=space.id if space else None, kind=kind, delivery=delivery
            )
        )


def stop_mails(user: User, kinds: Iterable[str]) -> None:
    """The one-click unsubscribe: no more mail for these kinds, in any space (the bell still shows them)."""
    kinds = [k for k in kinds if k in registry.notification_kinds()]
    for kind in kinds:
        general = db.session.scalar(
            select(NotificationPreference).where(
                NotificationPreference.user_id == user.id,
                NotificationPreference.space_id.is_(None),
                NotificationPreference.kind == kind,
            )
        )
        if general is None:
            db.session.add(NotificationPreference(user_id=user.id, space_id=None, kind=kind, delivery="none"))
        else:
            general.delivery = "none"
    if kinds:
        db.session.execute(
            update(NotificationPreference)
            .where(NotificationPreference.user_id == user.id, NotificationPreference.kind.in_(kinds))
            .values(delivery="none")
        )
        db.session.execute(
            update(Notification)  # and nothing already waiting goes out
            .where(Notification.user_id == user.id, Notification.kind.in_(kinds), Notification.mail_due_at.is_not(None))
            .values(mail_due_at=None)
        )


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="agora-unsubscribe")


def unsubscribe_token(user: User, kinds: Iterable[str]) -> str:
    return _serializer().dumps({"u": user.id, "k": sorted(set(kinds))})


def read_unsubscribe_token(token: str) -> tuple[User, list[str]] | None:
    """The person and kinds a signed unsubscribe link stands for, or None for a forged or stale one."""
    try:
        data = _serializer().loads(token)
    except BadSignature:
        return None
    if not isinstance(data, dict) or not isinstance(data.get("u"), int) or not isinstance(data.get("k"), list):
        return None
    user = db.session.get(User, data["u"])
    kinds = [k for k in data["k"] if k in registry.notification_kinds()]
    if user is None or user.is_disabled or not kinds:
        return None
    return user, kinds


# Writing notifications -----------------------------------------------------------------------


def zone_of(user: User) -> ZoneInfo:
    try:
        return ZoneInfo(user.timezone or current_app.config["DEFAULT_TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo("UTC")


def digest_due(user: User, delivery: str, now: datetime) -> datetime:
    """The next digest time after now: 07:00 local tomorrow (or today, if not yet 07:00); Mondays for weekly."""
    local = now.astimezone(zone_of(user))
    day = local.date()
    candidate = datetime.combine(day, DIGEST_HOUR, tzinfo=local.tzinfo)
    if candidate <= local:
        day += timedelta(days=1)
    if delivery == "weekly":
        day += timedelta(days=(7 - day.weekday()) % 7)
    return datetime.combine(day, DIGEST_HOUR, tzinfo=local.tzinfo).astimezone(ZoneInfo("UTC"))


def _module_of(verb: str) -> str | None:
    module = verb.split(".")[0]
    return module if module in MODULES else None


def notify(
    space: Space,
    kind: str,
    verb: str,
    recipients: Iterable[User],
    *,
    actor: User | None,
    title: str,
    url: str,
    group_key: str,
    excerpt: str = "",
    event_id: int | None = None,
    now: datetime | None = None,
) -> list[Notification]:
    """Tell these people (members of the space other than the actor) that something happened.

    Writes the rows in the current transaction: they exist only if the change commits.
    """
    if space.is_archived or (_module_of(verb) and not space.has_module(_module_of(verb))):
        return []
    people = {
        u.id: u for u in recipients if u is not None and not u.is_disabled and (actor is None or u.id != actor.id)
    }
    if not people:
        return []
    members = set(
        db.session.scalars(
            select(Membership.user_id).where(Membership.space_id == space.id, Membership.user_id.in_(people))
        )
    )
    people = {uid: u for uid, u in people.items() if uid in members}
    if not people:
        return []
    now = now or utcnow()
    deliveries = deliveries_for(space, kind, people)
    excerpt = markdown_text(excerpt)  # excerpts come from Markdown bodies: shown as plain words
    if len(excerpt) > EXCERPT_LENGTH:
        excerpt = excerpt[: EXCERPT_LENGTH - 1].rstrip() + "…"

    # A group already waiting for its mail: the new item joins it and pushes the mail back a little.
    pending = dict(
        db.session.execute(
            select(Notification.user_id, func.min(Notification.created_at))
            .where(
                Notification.group_key == group_key,
                Notification.user_id.in_(people),
                Notification.delivery == "now",
                Notification.mail_due_at.is_not(None),
            )
            .group_by(Notification.user_id)
        ).all()
    )
    regroup: dict[datetime, list[int]] = defaultdict(list)
    made = []
    for uid, user in people.items():
        delivery = deliveries[uid] if user.email else "none"
        due = None
        if delivery == "now":
            first = pending.get(uid) or now
            due = min(first + MAX_WAIT, now + QUIET)
            if uid in pending:
                regroup[due].append(uid)
        elif delivery in ("daily", "weekly"):
            due = digest_due(user, delivery, now)
        made.append(
            Notification(
                space_id=space.id,
                user_id=uid,
                kind=kind,
                verb=verb,
                actor_id=actor.id if actor else None,
                actor_name=actor.display_name if actor else "",
                title=title[:200],
                excerpt=excerpt,
                url=url[:300],
                group_key=group_key[:60],
                event_id=event_id,
                created_at=now,
                delivery=delivery,
                mail_due_at=due,
            )
        )
    for due, uids in regroup.items():
        db.session.execute(
            update(Notification)
            .where(
                Notification.group_key == group_key,
                Notification.user_id.in_(uids),
                Notification.delivery == "now",
                Notification.mail_due_at.is_not(None),
            )
            .values(mail_due_at=due)
        )
    db.session.add_all(made)
    return made


def space_members(space: Space, *, except_user: User | None = None) -> list[User]:
    """Every member of the space (the usual audience of news, new topics and events)."""
    stmt = (
        select(User)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.space_id == space.id, User.is_disabled.is_(False))
    )
    if except_user is not None:
        stmt = stmt.where(User.id != except_user.id)
    return list(db.session.scalars(stmt))


def forget_member(space: Space, user: User) -> None:
    """Someone who leaves a space stops hearing about it, waiting mails included."""
    db.session.execute(delete(Notification).where(Notification.space_id == space.id, Notification.user_id == user.id))
    db.session.execute(
        delete(NotificationPreference).where(
            NotificationPreference.space_id == space.id, NotificationPreference.user_id == user.id
        )
    )


@member_left.connect
def _member_left(space: Space, user: User) -> None:
    forget_member(space, user)


@notification_wanted.connect
def _notification_wanted(space: Space, *, recipients: Iterable[User] | None = None, **details) -> None:
    if recipients is None:
        recipients = space_members(space, except_user=details.get("actor"))
    notify(space, recipients=recipients, **details)


# The bell ------------------------------------------------------------------------------------


#: The person's notifications in spaces they still belong to and that are not archived; the bell
#: asks on every page, so it is built once (see auth.services._LIVE_LOGIN) and bound per person.
_VISIBLE = (
    select(Notification)
    .join(Membership, (Membership.space_id == Notification.space_id) & (Membership.user_id == bindparam("user_id")))
    .join(Space, Space.id == Notification.space_id)
    .where(Notification.user_id == bindparam("user_id"), Space.archived_at.is_(None))
)
_UNREAD = select(func.count()).select_from(_VISIBLE.where(Notification.read_at.is_(None)).subquery())


def visible(user: User):
    """The person's notifications in spaces they still belong to and that are not archived."""
    return _VISIBLE.params(user_id=user.id)


def unread_count(user: User) -> int:
    return db.session.scalar(_UNREAD, {"user_id": user.id})


def get_notification(user: User, notification_id: int) -> Notification | None:
    return db.session.scalar(visible(user).where(Notification.id == notification_id))


def mark_read(user: User, notification: Notification | None = None, now: datetime | None = None) -> int:
    """Mark one notification, or all of the person's, as read; return how many changed."""
    stmt = update(Notification).where(Notification.user_id == user.id, Notification.read_at.is_(None))
    if notification is not None:
        stmt = stmt.where(Notification.id == notification.id)
    return db.session.execute(stmt.values(read_at=now or utcnow())).rowcount
