"""The mail outbox: messages are rows written with the change that caused them, sent afterwards.

A dead or refusing SMTP server loses nothing: the row stays pending and is retried later with a
growing delay. A row is claimed before it is sent, so two senders never send it twice.
"""

from __future__ import annotations

import smtplib
import ssl
from dataclasses import dataclass
from datetime import datetime, timedelta
from email import policy
from email.message import EmailMessage
from email.utils import make_msgid

from flask import current_app
from sqlalchemy import JSON, Index, String, Text, func, select, update
from sqlalchemy.orm import Mapped, mapped_column

from agora.core.services import one_line
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db

MAX_ATTEMPTS = 8
#: Delay before the n-th retry: 1, 2, 4 ... minutes, capped at six hours.
BACKOFF_CAP = timedelta(hours=6)
#: A claim older than this is taken to be from a sender that died mid-batch.
STALE_CLAIM = timedelta(minutes=15)


class OutboxMessage(db.Model):
    """An e-mail waiting to be sent, being sent, sent, or given up on."""

    __tablename__ = "outbox_messages"
    __table_args__ = (Index("ix_outbox_messages_status_next_attempt_at", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    recipient: Mapped[str] = mapped_column(String(254))
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    #: The same message as HTML, sent beside the text as multipart/alternative.
    html: Mapped[str | None] = mapped_column(Text)
    #: Extra headers (List-Unsubscribe...), name to value.
    headers: Mapped[dict | None] = mapped_column(JSON)
    #: An iCalendar file joined to the message (invitation.ics).
    calendar: Mapped[str | None] = mapped_column(Text)
    #: pending, sending, sent or failed.
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


def queue_mail(
    recipient: str,
    subject: str,
    body: str,
    *,
    html: str | None = None,
    headers: dict | None = None,
    calendar: str | None = None,
) -> OutboxMessage:
    """Write an e-mail to the outbox; it leaves only if the surrounding transaction commits.

    The subject is made one line (user text ends up in it) and cut to the column's size.
    """
    subject = one_line(subject)[:200]
    message = OutboxMessage(
        recipient=recipient.strip()[:254],
        subject=subject,
        body=body,
        html=html,
        headers=headers or None,
        calendar=calendar,
    )
    db.session.add(message)
    return message


@dataclass
class SendReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0


def _connect() -> smtplib.SMTP:
    cfg = current_app.config
    host, port, security = cfg["SMTP_HOST"], int(cfg["SMTP_PORT"]), cfg["SMTP_SECURITY"].lower()
    if security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=30, context=ssl.create_default_context())
    else:
        smtp = smtplib.SMTP(host, port, timeout=30)
        if security == "starttls":
            smtp.starttls(context=ssl.create_default_context())
    if cfg["SMTP_USER"]:
        smtp.login(cfg["SMTP_USER"], cfg["SMTP_PASSWORD"])
    return smtp


#: Headers up to RFC 5322's 998 characters stay as written: folded at 78, a long List-Unsubscribe
#: address came out RFC 2047-encoded, which mail clients do not read as a link.
MAIL_POLICY = policy.default.clone(max_line_length=998)


def _as_email(row: OutboxMessage) -> EmailMessage:
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = current_app.config["SMTP_FROM"]
    message["To"] = row.recipient
    message["Subject"] = row.subject
    message["Message-ID"] = make_msgid(idstring=f"agora-outbox-{row.id}")
    for name, value in (row.headers or {}).items():
        message[name] = value
    message.set_content(row.body)
    if row.html:
        message.add_alternative(row.html, subtype="html")
    if row.calendar:
        message.add_attachment(
            row.calendar.encode("utf-8"),
            maintype="text",
            subtype="calendar",
            filename="invitation.ics",
            params={"method": "PUBLISH"},
        )
    return message


def _claim(limit: int, now: datetime) -> list[int]:
    """Mark due rows as being sent by this sender (committed) and return their ids."""
    db.session.execute(  # release claims of a sender that died mid-batch
        update(OutboxMessage)
        .where(OutboxMessage.status == "sending", OutboxMessage.next_attempt_at < now - STALE_CLAIM)
        .values(status="pending")
    )
    due = db.session.scalars(
        select(OutboxMessage.id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(limit)
    ).all()
    claimed = []
    for message_id in due:
        won = db.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.id == message_id, OutboxMessage.status == "pending")
            .values(status="sending", next_attempt_at=now)
        ).rowcount
        if won:
            claimed.append(message_id)
    db.session.commit()
    return claimed


def send_pending(limit: int = 100, now: datetime | None = None) -> SendReport:
    """Send the due messages over SMTP; commit each outcome. Returns what happened.

    Raises nothing for SMTP trouble: failures are recorded on the rows and retried later.
    """
    now = now or utcnow()
    report = SendReport()
    claimed = _claim(limit, now)
    if not claimed:
        return report
    smtp = None
    for message_id in claimed:
        row = db.session.get(OutboxMessage, message_id)
        try:
            email = _as_email(row)
        except (ValueError, TypeError) as exc:  # a message that can never be built: give it up alone
            row.status, row.attempts, row.last_error = (
                "failed",
                row.attempts + 1,
                f"{exc.__class__.__name__}: {exc}"[:500],
            )
            report.failed += 1
            db.session.commit()
            continue
        try:
            if smtp is None:
                smtp = _connect()
            smtp.send_message(email)
        except (OSError, smtplib.SMTPException) as exc:
            row.attempts += 1
            row.last_error = f"{exc.__class__.__name__}: {exc}"[:500]
            if row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
                report.failed += 1
            else:
                row.status = "pending"
                row.next_attempt_at = now + min(timedelta(minutes=2 ** (row.attempts - 1)), BACKOFF_CAP)
                report.retried += 1
            if isinstance(exc, (OSError, smtplib.SMTPServerDisconnected)):
                smtp = None  # reconnect for the next message
        else:
            row.status, row.sent_at, row.attempts = "sent", utcnow(), row.attempts + 1
            report.sent += 1
        db.session.commit()
    if smtp is not None:
        try:
            smtp.quit()
        except (OSError, smtplib.SMTPException):
            pass
    return report


def outbox_counts() -> dict[str, int]:
    """Return how many messages are in each status."""
    rows = db.session.execute(select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all()
    counts = {"pending": 0, "sending": 0, "sent": 0, "failed": 0}
    counts.update(dict(rows))
    return counts
