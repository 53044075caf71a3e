"""Poll services: create and edit polls, cast ballots, count results, close, make the event.

Each takes the space first, looks objects up inside it only, flushes and never commits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import case, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from agora.auth.models import User
from agora.core.events import after_commit
from agora.core.richtext import render_markdown
from agora.core.services import ServiceError, one_line
from agora.core.time import in_zone, utcnow
from agora.extensions import db
from agora.notifications import services as notifications
from agora.polls.models import ANSWERS, KINDS, Participation, Poll, PollOption, Vote
from agora.spaces.models import Space
from agora.spaces.services import record_activity

MAX_OPTIONS = 20
logger = logging.getLogger(__name__)


@dataclass
class PollData:
    """What the poll form gives."""

    question: str
    kind: str = "single"
    description: str = ""
    options: list[str] = field(default_factory=list)
    slots: list[datetime] = field(default_factory=list)  #: date polls: aware starts
    slot_minutes: int = 120
    max_choices: int | None = None
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    readers_vote: bool = False
    is_anonymous: bool = False
    results_live: bool = True
    allow_change: bool = True


def get_poll(space: Space, poll_id: int | None) -> Poll | None:
    if not poll_id:
        return None
    return db.session.scalar(select(Poll).where(Poll.id == poll_id, Poll.space_id == space.id))


def options(poll: Poll) -> list[PollOption]:
    return list(
        db.session.scalars(
            select(PollOption).where(PollOption.poll_id == poll.id).order_by(PollOption.position, PollOption.id)
        )
    )


def turnout(poll: Poll) -> int:
    return (
        db.session.scalar(select(func.count()).select_from(Participation).where(Participation.poll_id == poll.id)) or 0
    )


def has_voted(poll: Poll, user: User) -> bool:
    return (
        db.session.scalar(
            select(Participation.id).where(Participation.poll_id == poll.id, Participation.user_id == user.id)
        )
        is not None
    )


def my_answers(poll: Poll, user: User) -> dict[int, str]:
    """What the person chose (named polls only: anonymous ballots are not kept)."""
    if poll.is_anonymous:
        return {}
    return dict(
        db.session.execute(
            select(Vote.option_id, Vote.answer).where(Vote.poll_id == poll.id, Vote.user_id == user.id)
        ).all()
    )


def _clean_options(data: PollData) -> list[tuple[str, datetime | None]]:
    if data.kind == "dates":
        slots = sorted(set(data.slots))
        if len(slots) != len([s for s in data.slots if s]):
            raise ServiceError(_l("Deux dates proposées sont identiques."), field="options", status=409)
        return [("", slot) for slot in slots]
    labels = [one_line(o)[:200] for o in data.options]
    labels = [label for label in labels if label]
    if len({label.casefold() for label in labels}) != len(labels):
        raise ServiceError(
            _l("Deux choix sont identiques : chaque choix doit être différent."), field="options", status=409
        )
    return [(label, None) for label in labels]


def _check(data: PollData, cleaned: list) -> None:
    if data.kind not in KINDS:
        raise ServiceError(_l("Choisissez le type de sondage."), field="kind")
    if not one_line(data.question):
        raise ServiceError(_l("Écrivez la question."), field="question")
    if len(cleaned) < 2:
        raise ServiceError(_l("Proposez au moins deux choix."), field="options")
    if len(cleaned) > MAX_OPTIONS:
        raise ServiceError(_l("Pas plus de %(n)s choix.", n=MAX_OPTIONS), field="options")
    if data.kind == "multiple" and data.max_choices is not None and not 1 <= data.max_choices <= len(cleaned):
        raise ServiceError(_l("Le nombre maximum de choix va de 1 au nombre de choix proposés."), field="max_choices")
    if data.closes_at is not None and data.closes_at <= (data.opens_at or utcnow()):
        raise ServiceError(_l("La clôture doit venir après l'ouverture."), field="closes_at")
    if data.kind == "dates" and not 15 <= data.slot_minutes <= 24 * 60:
        raise ServiceError(_l("La durée va de 15 minutes à 24 heures."), field="slot_minutes")


def create_poll(space: Space, author: User, data: PollData) -> Poll:
    cleaned = _clean_options(data)
    _check(data, cleaned)
    poll = Poll(space_id=space.id, created_by_id=author.id, opens_at=data.opens_at or utcnow())
    _apply(poll, data)
    db.session.add(poll)
    db.session.flush()
    db.session.add_all(
        PollOption(space_id=space.id, poll_id=poll.id, position=n, label=label, starts_at=start)
        for n, (label, start) in enumerate(cleaned)
    )
    db.session.flush()
    url = url_for("polls.show_poll", slug=space.slug, poll_id=poll.id)
    record_activity(space, author, "polls.poll", poll.question, url)
    after_commit("polls.poll", poll.id, space.id, "created")
    notifications.notify(
        space,
        "news",
        "polls.poll",
        notifications.space_members(space, except_user=author),
        actor=author,
        title=poll.question,
        url=url,
        group_key=f"news:{space.id}",
        excerpt=poll.description,
    )
    return poll


def _apply(poll: Poll, data: PollData) -> None:
    poll.kind, poll.question = data.kind, one_line(data.question)[:300]
    poll.description = (data.description or "").strip()
    poll.description_html = str(render_markdown(poll.description)) if poll.description else ""
    poll.max_choices = data.max_choices if data.kind == "multiple" else None
    poll.slot_minutes = data.slot_minutes
    poll.closes_at = data.closes_at
    poll.readers_vote, poll.is_anonymous, poll.results_live = data.readers_vote, data.is_anonymous, data.results_live
    # An anonymous ballot cannot be changed: nothing remembers what it was.
    poll.allow_change = data.allow_change and not data.is_anonymous


def update_poll(space: Space, poll: Poll, data: PollData) -> None:
    """Change a poll. Once someone has voted, its choices and rules stay as they were."""
    cleaned = _clean_options(data)
    _check(data, cleaned)
    current = options(poll)
    voted = turnout(poll)
    if voted:
        same = [(o.label, o.starts_at) for o in current] == cleaned
        rules = (poll.kind, poll.max_choices, poll.is_anonymous, poll.allow_change, poll.readers_vote)
        wanted = (
            data.kind,
            data.max_choices if data.kind == "multiple" else None,
            data.is_anonymous,
            data.allow_change and not data.is_anonymous,
            data.readers_vote,
        )
        if not same or rules != wanted:
            raise ServiceError(
                _l(
                    "Des personnes ont déjà voté : les choix et les règles du vote ne peuvent plus changer. "
                    "Vous pouvez modifier la question, la description et la date de clôture."
                ),
                field="options",
                status=409,
            )
    _apply(poll, data)
    if not voted:
        _drop_options(space, poll)
        db.session.add_all(
            PollOption(space_id=space.id, poll_id=poll.id, position=n, label=label, starts_at=start)
            for n, (label, start) in enumerate(cleaned)
        )
    db.session.flush()
    after_commit("polls.poll", poll.id, space.id, "updated")


def cast_ballot(space: Space, poll: Poll, user: User, answers: dict[int, str]) -> None:
    """Record one person's ballot: {option id: answer}. Raises ServiceError when it cannot count.

    Choice polls take "yes" for each chosen option; date polls an answer per proposed date
    (missing ones count as "no"). One ballot per person: a second one at the same moment meets
    the unique (poll, person) row and is refused; a change, where allowed, locks that row first.
    """
    if not poll.can_vote(user):
        raise ServiceError(_l("Vous ne pouvez pas voter à ce sondage."), status=403)
    if not poll.is_open():
        raise ServiceError(_l("Ce sondage n'est pas ouvert au vote."), status=409)
    by_id = {o.id: o for o in options(poll)}
    if any(option_id not in by_id for option_id in answers) or any(a not in ANSWERS for a in answers.values()):
        raise ServiceError(_l("Ce choix ne fait pas partie du sondage."), status=400)
    if poll.kind == "dates":
        answers = {option_id: answers.get(option_id, "no") for option_id in by_id}
    else:
        answers = {option_id: "yes" for option_id, answer in answers.items() if answer == "yes"}
        if not answers:
            raise ServiceError(_l("Choisissez une réponse."), field="choice")
        if poll.kind == "single" and len(answers) > 1:
            raise ServiceError(_l("Un seul choix possible."), field="choice")
        if poll.kind == "multiple" and poll.max_choices and len(answers) > poll.max_choices:
            raise ServiceError(_l("Pas plus de %(n)s choix.", n=poll.max_choices), field="choice")
    changed = db.session.execute(
        update(Participation)
        .where(Participation.poll_id == poll.id, Participation.user_id == user.id)
        .values(user_id=user.id)
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed:
        if not poll.allow_change:
            raise ServiceError(
                _l("Votre vote est déjà enregistré et ce sondage ne permet pas de le changer."), status=409
            )
        db.session.execute(delete(Vote).where(Vote.poll_id == poll.id, Vote.user_id == user.id))
    else:
        try:
            with db.session.begin_nested():
                db.session.add(Participation(space_id=space.id, poll_id=poll.id, user_id=user.id))
        except IntegrityError:  # the same person's other ballot got there first
            raise ServiceError(_l("Votre vote est déjà enregistré."), status=409) from None
    if poll.is_anonymous:
        _count_anonymously(poll, answers)
    else:
        db.session.add_all(
            Vote(space_id=space.id, poll_id=poll.id, option_id=option_id, user_id=user.id, answer=answer)
            for option_id, answer in answers.items()
        )
    db.session.flush()


def _count_anonymously(poll: Poll, answers: dict[int, str]) -> None:
    """Add an anonymous ballot to the counters, writing every option of the poll alike.

    On PostgreSQL a row's xmin is the transaction that last wrote it: touching only the chosen
    options would mark them with the voter's transaction. Each ballot rewrites them all, so the
    counters' system columns say when the last ballot came, never what it chose.
    """
    values = {}
    for answer in ANSWERS:
        chosen = [option_id for option_id, given in answers.items() if given == answer]
        if chosen:
            column = getattr(PollOption, f"{answer}_count")
            values[column] = column + case((PollOption.id.in_(chosen), 1), else_=0)
    db.session.execute(
        update(PollOption)
        .where(PollOption.poll_id == poll.id)
        .values(values)
        .execution_options(synchronize_session=False)
    )


def erase_ballot_traces() -> bool:
    """Empty SQLite's write-ahead log into the database file and cut it to nothing; True when done.

    Until a checkpoint, the log keeps every committed page in order: one ballot's commit holds
    the "has voted" row next to the counters it moved. Called after each anonymous ballot is
    committed (deleted content is zeroed too: the connections set secure_delete). A reader still
    inside an older snapshot makes it wait, then give up: the next ballot tries again.
    PostgreSQL keeps its log on the server, out of the application's reach: nothing to do.
    """
    if db.engine.dialect.name != "sqlite":
        return True
    with db.engine.connect() as connection:
        busy, _log, _moved = connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()
    if busy:
        logger.warning("the write-ahead log could not be emptied after an anonymous ballot: a reader holds it")
    return not busy


@dataclass
class Result:
    option: PollOption
    yes: int = 0
    maybe: int = 0
    no: int = 0
    voters: list[tuple[User | None, str]] = field(default_factory=list)
    percent: int = 0
    is_winner: bool = False

    @property
    def score(self) -> tuple[int, int]:
        return (self.yes, self.maybe)


def results(poll: Poll, poll_options: list[PollOption] | None = None) -> tuple[list[Result], int]:
    """Each option's counts (and voters, for named polls), with the turnout."""
    found = {o.id: Result(o) for o in (poll_options if poll_options is not None else options(poll))}
    if poll.is_anonymous:
        for result in found.values():
            result.yes, result.maybe, result.no = (
                result.option.yes_count,
                result.option.maybe_count,
                result.option.no_count,
            )
    else:
        rows = db.session.execute(
            select(Vote.option_id, Vote.answer, User)
            .outerjoin(User, User.id == Vote.user_id)
            .where(Vote.poll_id == poll.id)
            .order_by(User.display_name)
        )
        for option_id, answer, user in rows:
            result = found[option_id]
            setattr(result, answer, getattr(result, answer) + 1)
            result.voters.append((user, answer))
    voters = turnout(poll)
    ordered = list(found.values())
    for result in ordered:
        result.percent = round(result.yes * 100 / voters) if voters else 0
    best = max((r.score for r in ordered), default=(0, 0))
    for result in ordered:
        result.is_winner = voters > 0 and result.score == best and best != (0, 0)
    return ordered, voters


def close(space: Space, poll: Poll, actor: User) -> None:
    poll.closed_at = utcnow()
    record_activity(
        space, actor, "polls.closed", poll.question, url_for("polls.show_poll", slug=space.slug, poll_id=poll.id)
    )


def delete_poll(space: Space, poll: Poll) -> None:
    if turnout(poll):
        raise ServiceError(
            _l("Des personnes ont déjà voté : ce sondage ne peut plus être supprimé, seulement clos."), status=409
        )
    _drop_options(space, poll)
    db.session.delete(poll)
    db.session.flush()
    after_commit("polls.poll", poll.id, space.id, "deleted")


def _drop_options(space: Space, poll: Poll) -> None:
    """Delete a poll's options; their images' links go with them (agora.core.references), the files stay."""
    db.session.execute(delete(PollOption).where(PollOption.poll_id == poll.id))


def make_event(space: Space, poll: Poll, option: PollOption, actor: User, zone: str):
    """Put the chosen date of a date poll in the agenda; return the event."""
    from zoneinfo import ZoneInfo

    from agora.agenda import services as agenda

    if poll.kind != "dates" or option.poll_id != poll.id or option.starts_at is None:
        raise ServiceError(_l("Ce choix ne fait pas partie du sondage."), status=404)
    start = in_zone(option.starts_at, ZoneInfo(zone))
    end = start + timedelta(minutes=poll.slot_minutes)
    event = agenda.create_event(
        space,
        actor,
        agenda.EventData(
            title=poll.question,
            start_date=start.date(),
            end_date=end.date(),
            start_time=start.time().replace(tzinfo=None),
            end_time=end.time().replace(tzinfo=None),
            tz=zone,
            description=poll.description,
        ),
    )
    poll.event_id = event.id
    if not poll.is_closed():
        poll.closed_at = utcnow()
    return event


def open_polls(space: Space, now: datetime | None = None, limit: int | None = 5) -> list[Poll]:
    """Polls open now, closing soonest first (the space's home shows the first five)."""
    now = now or utcnow()
    return list(
        db.session.scalars(
            select(Poll)
            .where(
                Poll.space_id == space.id,
                Poll.closed_at.is_(None),
                Poll.opens_at <= now,
                (Poll.closes_at.is_(None)) | (Poll.closes_at > now),
            )
            .order_by(Poll.closes_at.is_(None), Poll.closes_at, Poll.id.desc())
            .limit(limit)
        )
    )
