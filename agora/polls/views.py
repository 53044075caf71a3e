"""Poll pages: the list, a new choice or date poll, a poll with its ballot and results, management."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time
from zoneinfo import ZoneInfo

from flask import Response, abort, flash, g, redirect, render_template, request, url_for
from flask_babel import get_timezone
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from agora.core.forms import apply_service_error
from agora.core.pagination import paginate
from agora.core.services import ServiceError, one_line, spreadsheet_cell
from agora.core.templating import when_long
from agora.core.time import in_zone, utcnow
from agora.documents import services as documents
from agora.extensions import db
from agora.polls import services
from agora.polls.forms import ROWS, BallotForm, ChoicePollForm, DatePollForm
from agora.polls.models import ANSWERS, Poll, PollOption
from agora.spaces.tenancy import require, space_blueprint

bp = space_blueprint("polls", __name__, "/polls")

ANSWER_LABELS = {"yes": "Oui", "maybe": "Si besoin", "no": "Non"}


@bp.get("/")
def list_polls():
    """Open polls first, then those to come, then closed ones (paginated)."""
    now = utcnow()
    open_polls = services.open_polls(g.space, now, limit=None)
    coming = db.session.scalars(
        select(Poll)
        .where(Poll.space_id == g.space.id, Poll.closed_at.is_(None), Poll.opens_at > now)
        .order_by(Poll.opens_at, Poll.id)
    ).all()
    closed = paginate(
        select(Poll)
        .where(Poll.space_id == g.space.id, (Poll.closed_at.is_not(None)) | (Poll.closes_at <= now))
        .order_by(Poll.id.desc()),
        20,
    )
    return render_template("polls/list.html", space=g.space, open_polls=open_polls, coming=coming, closed=closed)


def _moment(day, clock) -> datetime | None:
    """A date and an optional time typed in the reader's zone, as an aware datetime."""
    if day is None:
        return None
    return datetime.combine(day, clock or time(0, 0), tzinfo=ZoneInfo(str(get_timezone())))


def _data(form, kind: str) -> services.PollData:
    data = services.PollData(
        question=form.question.data or "",
        kind=kind if kind == "dates" else form.kind.data,
        description=form.description.data or "",
        opens_at=_moment(form.opens_on.data, form.opens_time.data),
        closes_at=_moment(form.closes_on.data, form.closes_time.data or time(23, 59)),
        readers_vote=form.readers_vote.data,
        is_anonymous=form.is_anonymous.data,
        results_live=form.results_live.data,
        allow_change=form.allow_change.data,
    )
    if kind == "dates":
        data.slots = [_moment(row.day.data, row.time.data) for row in form.slots if row.day.data]
        data.slot_minutes = form.slot_minutes.data or 120
    else:
        data.options = [row.text.data or "" for row in form.options]
        data.max_choices = form.max_choices.data
    return data


def _save(form, kind: str, poll: Poll | None):
    """Create or change a poll from its form; option images go to the documents."""
    data = _data(form, kind)
    if poll is None:
        poll = services.create_poll(g.space, current_user, data)
    else:
        services.update_poll(g.space, poll, data)
    if kind != "dates":
        rows = [row for row in form.options if one_line(row.text.data)]
        for row, option in zip(rows, services.options(poll), strict=True):
            if row.image.data and getattr(row.image.data, "filename", ""):
                documents.attach_form_files(
                    g.space,
                    "polls.option",
                    option.id,
                    [row.image.data],
                    field="options",
                    actor=current_user,
                    images=True,
                )
    return poll


def _form_page(form, kind: str, poll: Poll | None, status: int = 200):
    return render_template("polls/form.html", space=g.space, form=form, kind=kind, poll=poll), status


def _submit(form, kind: str, poll: Poll | None):
    if form.validate_on_submit():
        try:
            saved = _save(form, kind, poll)
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            return _form_page(form, kind, poll, exc.status)
        db.session.commit()
        flash(_("Le sondage est enregistré.") if poll else _("Le sondage est ouvert."), "success")
        return redirect(url_for("polls.show_poll", poll_id=saved.id))
    return _form_page(form, kind, poll, 400 if request.method == "POST" else 200)


@bp.route("/new", methods=["GET", "POST"])
def new_poll():
    """A poll with choices (members and admins)."""
    require(g.space.can_write(current_user))
    return _submit(ChoicePollForm(), "choice", None)


@bp.route("/new-date", methods=["GET", "POST"])
def new_date_poll():
    """ "Which evening suits you?": proposed dates, each answered yes, if need be or no."""
    require(g.space.can_write(current_user))
    return _submit(DatePollForm(), "dates", None)


def _poll(poll_id: int) -> Poll:
    return services.get_poll(g.space, poll_id) or abort(404)


@bp.route("/<int:poll_id>/edit", methods=["GET", "POST"])
def edit_poll(poll_id: int):
    """Change a poll (its author, space admins); choices are fixed once someone has voted."""
    poll = _poll(poll_id)
    require(poll.can_manage(current_user))
    zone = ZoneInfo(str(get_timezone()))
    kind = "dates" if poll.kind == "dates" else "choice"
    form_class = DatePollForm if kind == "dates" else ChoicePollForm
    if request.method == "POST":
        form = form_class()
    else:
        form = form_class(obj=poll)
        opts = services.options(poll)
        rows = max(ROWS, len(opts) + 1)
        if kind == "dates":
            form.slots.entries = []
            for option in opts:
                local = in_zone(option.starts_at, zone)
                form.slots.append_entry({"day": local.date(), "time": local.time().replace(tzinfo=None)})
            while len(form.slots) < rows:
                form.slots.append_entry()
        else:
            form.options.entries = []
            for option in opts:
                form.options.append_entry({"text": option.label})
            while len(form.options) < rows:
                form.options.append_entry()
        for name, value in (("opens", poll.opens_at), ("closes", poll.closes_at)):
            if value:
                local = in_zone(value, zone)
                getattr(form, f"{name}_on").data, getattr(form, f"{name}_time").data = (
                    local.date(),
                    local.time().replace(tzinfo=None),
                )
    return _submit(form, kind, poll)


@bp.get("/<int:poll_id>")
def show_poll(poll_id: int):
    """The question, the ballot while it is open, and the results when they may be seen."""
    poll = _poll(poll_id)
    return _poll_page(poll)


def _poll_page(poll: Poll, status: int = 200, errors: list[str] | None = None, answers: dict[int, str] | None = None):
    now = utcnow()
    opts = services.options(poll)
    voted = services.has_voted(poll, current_user)
    results, voters = services.results(poll, opts) if poll.results_visible(now) else ([], services.turnout(poll))
    mine = answers if answers is not None else services.my_answers(poll, current_user)
    images = (
        documents.attachments_for(g.space, "polls.option", [o.id for o in opts])
        if g.space.has_module("documents")
        else {}
    )
    return render_template(
        "polls/poll.html",
        space=g.space,
        poll=poll,
        options=opts,
        voted=voted,
        mine=mine,
        results=results,
        voters=voters,
        now=now,
        form=BallotForm(),
        errors=errors or [],
        answer_labels={k: _(v) for k, v in ANSWER_LABELS.items()},
        answers=ANSWERS,
        images=images,
        may_ballot=poll.can_vote(current_user) and poll.is_open(now) and (not voted or poll.allow_change),
    ), status


def _ballot(poll: Poll) -> dict[int, str]:
    """The answers sent by the ballot form: {option id: answer}."""
    answers: dict[int, str] = {}
    if poll.kind == "dates":
        for key, value in request.form.items():
            if key.startswith("answer-"):
                answers[_option_id(key.removeprefix("answer-"))] = value
    else:
        for raw in request.form.getlist("choice"):
            answers[_option_id(raw)] = "yes"
    return answers


def _option_id(raw: str) -> int:
    if not (raw.isascii() and raw.isdigit() and int(raw) < 2**31):
        abort(400)
    return int(raw)


@bp.post("/<int:poll_id>/vote")
def vote(poll_id: int):
    """Record the ballot; the confirmation says what was recorded."""
    poll = _poll(poll_id)
    if not BallotForm().validate_on_submit():
        abort(400)
    answers = _ballot(poll)
    try:
        services.cast_ballot(g.space, poll, current_user, answers)
    except ServiceError as exc:
        db.session.rollback()
        return _poll_page(poll, exc.status, errors=[str(exc.message)], answers=answers)
    db.session.commit()
    if poll.is_anonymous:
        services.erase_ballot_traces()
    labels = {o.id: o for o in services.options(poll)}
    if poll.kind == "dates":
        said = "; ".join(
            f"{_option_label(labels[i])} : {_(ANSWER_LABELS[a])}" for i, a in answers.items() if i in labels
        )
    else:
        said = ", ".join(f"« {_option_label(labels[i])} »" for i in answers if i in labels)
    message = _("Votre vote est enregistré : %(said)s.", said=said)
    if poll.is_anonymous:
        message += " " + _("Il est anonyme : personne ne peut savoir ce que vous avez choisi.")
    flash(message, "success")
    return redirect(url_for("polls.show_poll", poll_id=poll.id) + "#vote-status")


def _option_label(option: PollOption) -> str:
    return option.label if option.starts_at is None else when_long(option.starts_at)


@bp.post("/<int:poll_id>/close")
def close_poll(poll_id: int):
    poll = _poll(poll_id)
    require(poll.can_manage(current_user))
    if not poll.is_closed():
        services.close(g.space, poll, current_user)
        db.session.commit()
    flash(_("Le sondage est clos : les résultats ne bougeront plus."), "success")
    return redirect(url_for("polls.show_poll", poll_id=poll.id))


@bp.post("/<int:poll_id>/delete")
def delete_poll(poll_id: int):
    poll = _poll(poll_id)
    require(poll.can_manage(current_user))
    try:
        services.delete_poll(g.space, poll)
    except ServiceError as exc:
        db.session.rollback()
        return _poll_page(poll, exc.status, errors=[str(exc.message)])
    db.session.commit()
    flash(_("Le sondage est supprimé."), "success")
    return redirect(url_for("polls.list_polls"))


@bp.post("/<int:poll_id>/options/<int:option_id>/event")
def make_event(poll_id: int, option_id: int):
    """Put the chosen date in the agenda (the author, space admins); the poll closes."""
    poll = _poll(poll_id)
    require(poll.can_manage(current_user) and g.space.has_module("agenda"))
    option = db.session.scalar(
        select(PollOption).where(
            PollOption.id == option_id, PollOption.poll_id == poll.id, PollOption.space_id == g.space.id
        )
    ) or abort(404)
    if poll.event_id:
        abort(409)
    event = services.make_event(g.space, poll, option, current_user, str(get_timezone()))
    db.session.commit()
    flash(_("La date est dans l'agenda. Vous pouvez compléter l'événement (lieu, description)."), "success")
    return redirect(url_for("agenda.show_event", event_id=event.id))


@bp.get("/<int:poll_id>/results.csv")
def export_results(poll_id: int):
    """The results as a spreadsheet: counts per choice, and who voted what for a named poll."""
    poll = _poll(poll_id)
    if not poll.results_visible():
        abort(403)
    results, voters = services.results(poll)
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";")
    header = [_("Choix"), _("Oui") if poll.kind == "dates" else _("Voix")]
    if poll.kind == "dates":
        header += [_("Si besoin"), _("Non")]
    header += [_("Pourcentage")]
    if not poll.is_anonymous:
        header.append(_("Votants"))
    writer.writerow(header)
    for result in results:
        row = [spreadsheet_cell(_option_label(result.option)), result.yes]
        if poll.kind == "dates":
            row += [result.maybe, result.no]
        row.append(f"{result.percent} %")
        if not poll.is_anonymous:
            row.append(
                ", ".join(
                    spreadsheet_cell(u.display_name if u else _("compte supprimé"))
                    + (f" ({_(ANSWER_LABELS[a])})" if poll.kind == "dates" else "")
                    for u, a in result.voters
                    if a != "no" or poll.kind == "dates"
                )
            )
        writer.writerow(row)
    writer.writerow([_("Participation"), voters])
    response = Response("\ufeff" + out.getvalue(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="sondage-{poll.id}.csv"'
    return response
