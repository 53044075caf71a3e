"""Turning due notification rows into outbox mails: one per group sent "now", one per digest.

Mails are written in the person's language, as text and HTML, with the space in the subject,
an .ics of the events they mention, and List-Unsubscribe headers for a one-click stop.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from babel.dates import format_date, format_datetime, format_time
from flask import current_app, render_template
from flask_babel import force_locale, ngettext
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.orm import selectinload

from agora.auth.models import User
from agora.core import registry
from agora.core.mail import queue_mail
from agora.core.time import utcnow
from agora.core.urls import public_url
from agora.extensions import db
from agora.notifications import services
from agora.notifications.models import Notification
from agora.notifications.texts import sentence
from agora.spaces.models import Membership

USERS_PER_BATCH = 200


def _absolute(path: str) -> str:
    return current_app.config["BASE_URL"].rstrip("/") + path


def _claim(now: datetime, limit: int) -> list[Notification]:
    """Take the due rows of up to `limit` people: their mail becomes this transaction's job."""
    user_ids = db.session.scalars(
        select(Notification.user_id)
        .where(Notification.mail_due_at <= now)
        .group_by(Notification.user_id)
        .order_by(Notification.user_id)
        .limit(limit)
    ).all()
    if not user_ids:
        return []
    # A second composer running at the same time finds these rows already claimed (the UPDATE waits for us).
    claimed = db.session.scalars(
        update(Notification)
        .where(Notification.user_id.in_(user_ids), Notification.mail_due_at <= now)
        .values(mail_due_at=None, mailed_at=now)
        .returning(Notification.id)
    ).all()
    if not claimed:
        return []
    return list(
        db.session.scalars(
            select(Notification)
            .where(Notification.id.in_(claimed))
            .options(selectinload(Notification.space), selectinload(Notification.user))
            .order_by(Notification.user_id, Notification.space_id, Notification.id)
        ).all()
    )


def _events_of(items: list[Notification]) -> dict[int, object]:
    """The events these rows name, by id, each read inside the row's own space: an id alone is never
    trusted (a row written before its event was deleted must not bring another space's event)."""
    from agora.agenda.models import Event

    wanted = {(n.space_id, n.event_id) for n in items if n.event_id}
    if not wanted:
        return {}
    found = db.session.scalars(
        select(Event).where(
            Event.id.in_({event_id for _, event_id in wanted}), Event.space_id.in_({space_id for space_id, _ in wanted})
        )
    )
    return {e.id: e for e in found if (e.space_id, e.id) in wanted}


def _events_calendar(events: list) -> str | None:
    from agora.agenda.ical import event_calendar

    return event_calendar(sorted(events, key=lambda e: e.starts_at)).decode("utf-8") if events else None


def _sections(user: User, items: list[Notification], events: dict[int, object], language: str) -> list[dict]:
    """Items grouped by space, times in the person's zone; events say when they take place."""
    zone = services.zone_of(user)

    def when(item: Notification) -> str:
        event = events.get(item.event_id)
        if event is None:
            return ""
        start = event.starts_at.astimezone(zone)
        if event.all_day:
            return format_date(start, "full", locale=language)
        return f"{format_date(start, 'full', locale=language)}, {format_time(start, 'short', locale=language)}"

    by_space: dict[int, list[Notification]] = defaultdict(list)
    for item in items:
        by_space[item.space_id].append(item)
    return [
        {
            "space": rows[0].space,
            "home": _absolute(f"/s/{rows[0].space.slug}/"),
            "items": [
                {
                    "text": sentence(n),
                    "excerpt": n.excerpt,
                    "url": _absolute(n.url),
                    "when": when(n),
                    "at": format_datetime(n.created_at, "short", tzinfo=zone, locale=language),
                }
                for n in rows
            ],
        }
        for rows in by_space.values()
    ]


def _queue(
    user: User, items: list[Notification], subject: str, heading: str, digest: str | None, language: str
) -> None:
    kinds = sorted({n.kind for n in items})
    unsubscribe = public_url("notifications.unsubscribe", token=services.unsubscribe_token(user, kinds))
    events = _events_of(items)
    context = {
        "user": user,
        "heading": heading,
        "sections": _sections(user, items, events, language),
        "digest": digest,
        "unsubscribe_url": unsubscribe,
        "preferences_url": public_url("notifications.preferences"),
        "bell_url": public_url("notifications.index"),
        "site_name": current_app.config["SITE_NAME"],
    }
    queue_mail(
        user.email,
        subject,
        render_template("notifications/mail.txt", **context),
        html=render_template("notifications/mail.html", **context),
        headers={
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Auto-Submitted": "auto-generated",
        },
        calendar=_events_calendar(list(events.values())),
    )


def _group_subject(items: list[Notification]) -> str:
    space = items[0].space.name
    if len(items) == 1:
        return f"[{space}] {sentence(items[0])}"
    kind = items[-1].kind
    return f"[{space}] " + str(registry.notification_kinds()[kind].group_subject) % {
        "count": len(items),
        "title": items[-1].title,
    }


def _compose_for(user: User, items: list[Notification]) -> int:
    language = user.language or current_app.config["DEFAULT_LANGUAGE"]
    sent = 0
    with force_locale(language):
        groups: dict[str, list[Notification]] = defaultdict(list)
        digests: dict[str, list[Notification]] = defaultdict(list)
        for item in items:
            if item.delivery == "now":
                groups[item.group_key].append(item)
            else:
                digests[item.delivery].append(item)
        for group in groups.values():
            subject = _group_subject(group)
            _queue(user, group, subject, subject.split("] ", 1)[1], None, language)
            sent += 1
        for delivery, rows in digests.items():
            spaces = sorted({n.space.name for n in rows})
            heading = _("Votre résumé du jour") if delivery == "daily" else _("Votre résumé de la semaine")
            where = spaces[0] if len(spaces) == 1 else _("%(n)s espaces", n=len(spaces))
            count = ngettext(
                "%(heading)s : %(num)s nouveauté", "%(heading)s : %(num)s nouveautés", len(rows), heading=heading
            )
            _queue(user, rows, f"[{where}] {count}", heading, delivery, language)
            sent += 1
    return sent


def compose_due(now: datetime | None = None, limit: int = USERS_PER_BATCH) -> int:
    """Write the mails that are due to the outbox and commit; return how many were written.

    People with no address, disabled, or no longer members get no mail (their rows stay in the bell).
    """
    now = now or utcnow()
    written = 0
    while True:
        items = _claim(now, limit)
        if not items:
            db.session.commit()
            return written
        members = {
            (uid, sid)
            for uid, sid in db.session.execute(
                select(Membership.user_id, Membership.space_id).where(
                    Membership.user_id.in_({n.user_id for n in items})
                )
            )
        }
        per_user: dict[int, list[Notification]] = defaultdict(list)
        for item in items:
            if (item.user_id, item.space_id) in members and not item.space.is_archived:
                per_user[item.user_id].append(item)
        with current_app.test_request_context("/", base_url=current_app.config["BASE_URL"]):
            for rows in per_user.values():
                user = rows[0].user
                if user.email and not user.is_disabled:
                    written += _compose_for(user, rows)
        db.session.commit()
