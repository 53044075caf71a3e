"""The outbox sender against a real SMTP server: delivery, retries, nothing lost, nothing twice."""

from __future__ import annotations

from datetime import timedelta
from email.header import decode_header, make_header

from sqlalchemy import select

from agora.core import mail
from agora.core.mail import OutboxMessage
from agora.core.time import utcnow
from tests.conftest import free_port


def test_pending_mail_is_delivered_once(app, db, smtp_server, smtp_config):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port, SMTP_FROM="agora@quartier.example")
    mail.queue_mail("odile@example.org", "Réunion du conseil", "Mardi à 18 h, salle polyvalente.")
    db.session.commit()
    report = mail.send_pending()
    assert (report.sent, report.retried) == (1, 0)
    assert len(handler.messages) == 1
    received = handler.messages[0]
    assert received["To"] == "odile@example.org"
    assert str(make_header(decode_header(received["Subject"]))) == "Réunion du conseil"
    assert "salle polyvalente" in received.get_payload(decode=True).decode("utf-8")
    assert mail.send_pending().sent == 0  # nothing twice
    assert mail.outbox_counts()["sent"] == 1


def test_dead_smtp_server_loses_nothing_and_retries_later(app, db, smtp_server, smtp_config):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())  # nobody listens there
    mail.queue_mail("rene@example.org", "Lien", "…")
    db.session.commit()
    start = utcnow()
    report = mail.send_pending(now=start)
    assert report.retried == 1
    row = db.session.scalar(select(OutboxMessage))
    assert row.status == "pending" and row.attempts == 1 and "Error" in row.last_error
    assert mail.send_pending(now=start + timedelta(seconds=30)).retried == 0  # not due yet

    smtp_config.update(SMTP_PORT=controller.port)  # the server is back
    assert mail.send_pending(now=start + timedelta(minutes=2)).sent == 1
    assert len(handler.messages) == 1


def test_message_is_given_up_after_many_attempts(app, db, smtp_config):
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=free_port())
    mail.queue_mail("x@example.org", "Sujet", "Texte")
    db.session.commit()
    when = utcnow()
    for _ in range(mail.MAX_ATTEMPTS):
        mail.send_pending(now=when)
        when += mail.BACKOFF_CAP
    row = db.session.scalar(select(OutboxMessage))
    assert row.status == "failed" and row.attempts == mail.MAX_ATTEMPTS


def test_a_claim_left_by_a_crashed_sender_is_picked_up_again(app, db, smtp_server, smtp_config):
    controller, handler = smtp_server
    smtp_config.update(SMTP_HOST="127.0.0.1", SMTP_PORT=controller.port)
    mail.queue_mail("y@example.org", "Sujet", "Texte")
    db.session.commit()
    start = utcnow()
    assert mail._claim(10, start)  # a sender claims it, then dies before sending
    assert mail.send_pending(now=start + timedelta(minutes=1)).sent == 0
    assert mail.send_pending(now=start + mail.STALE_CLAIM + timedelta(minutes=1)).sent == 1
    assert len(handler.messages) == 1


def test_mail_rolled_back_with_its_cause_is_never_sent(app, db):
    mail.queue_mail("z@example.org", "Sujet", "Texte")
    db.session.rollback()
    assert db.session.scalar(select(OutboxMessage)) is None
