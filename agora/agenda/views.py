"""Agenda pages: list and month views, events and series, subscriptions, and the iCal feeds."""

from __future__ import annotations

import calendar as pycalendar
import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import get_timezone, ngettext
from flask_babel import gettext as _
from flask_login import current_user, login_required
from sqlalchemy import select
from wtforms import SelectChoice

from agora.agenda import ical, importer, recurrence, services
from agora.agenda.forms import CalendarImportForm, CategoryForm, EventForm, OccurrenceForm, ResourceForm
from agora.agenda.models import IcalToken
from agora.core.forms import (
    apply_service_error,
    preview_token,
    previewed_file,
    save_form,
)
from agora.core.security import keep_secret, kept_secret
from agora.core.services import ServiceError
from agora.core.time import utcnow
from agora.core.urls import date_arg, secret_url
from agora.documents import services as documents
from agora.extensions import csrf, db
from agora.spaces.models import Space
from agora.spaces.tenancy import require, space_blueprint

bp = space_blueprint("agenda", __name__)
mine_bp = Blueprint("my_agenda", __name__)
feeds_bp = Blueprint("ical", __name__)

LIST_DAYS = 42
WEEKDAY_NAMES = {"MO": 0, "TU": 1, "WE": 2, "TH": 3, "FR": 4, "SA": 5, "SU": 6}


@bp.app_template_filter("rrule_label")
def rrule_label(text: str) -> str:
    """Say a recurrence rule in plain words: « toutes les 2 semaines, le mardi, 10 fois »."""
    from flask_babel import format_date, get_locale

    rule = dict(part.split("=", 1) for part in text.split(";") if "=" in part)
    if recurrence.shape_problem(text) is not None:  # a row written without the check: it shows as its first date
        return ""
    n = int(rule.get("INTERVAL", 1))
    words = {
        "DAILY": _("tous les jours") if n == 1 else _("tous les %(n)s jours", n=n),
        "WEEKLY": _("toutes les semaines") if n == 1 else _("toutes les %(n)s semaines", n=n),
        "MONTHLY": _("tous les mois") if n == 1 else _("tous les %(n)s mois", n=n),
        "YEARLY": _("tous les ans") if n == 1 else _("tous les %(n)s ans", n=n),
    }.get(rule.get("FREQ", ""), "")
    days = get_locale().days["format"]["wide"]
    parts = [words]
    if "BYDAY" in rule:
        labels = []
        for code in rule["BYDAY"].split(","):
            nth, day = code[:-2], code[-2:]
            name = days[WEEKDAY_NAMES.get(day, 0)]
            labels.append(
                _("le dernier %(day)s", day=name)
                if nth == "-1"
                else _("le %(n)se %(day)s", n=nth, day=name)
                if nth
                else name
            )
        parts.append(", ".join(labels))
    if "BYMONTHDAY" in rule:
        parts.append(_("le %(n)s du mois", n=rule["BYMONTHDAY"]))
    if "COUNT" in rule:
        parts.append(ngettext("%(num)s fois", "%(num)s fois", int(rule["COUNT"])))
    elif "UNTIL" in rule:
        parts.append(_("jusqu'au %(day)s", day=format_date(services.parse_until(rule["UNTIL"]), "long")))
    return ", ".join(p for p in parts if p)


def _viewer_zone() -> ZoneInfo:
    return ZoneInfo(str(get_timezone()))


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=_viewer_zone())


def _list_page(space_ids: list[int], template: str, **context):
    today = utcnow().astimezone(_viewer_zone()).date()
    first = date_arg("from") or today
    start, end = _day_start(first), _day_start(first + timedelta(days=LIST_DAYS))
    found = services.occurrences(space_ids, start, end)
    days: dict[date, list] = {}
    for occurrence in found:
        days.setdefault(services.local_day(occurrence, _viewer_zone()), []).append(occurrence)
    return render_template(
        template,
        days=sorted(days.items()),
        first=first,
        today=today,
        previous=first - timedelta(days=LIST_DAYS),
        following=first + timedelta(days=LIST_DAYS),
        **context,
    )


@bp.get("/agenda/")
def show_agenda():
    """The space's agenda: a list of coming days (default) or a month grid."""
    space = g.space
    if request.args.get("view") == "month":
        return _month_page(space)
    if request.args.get("view") == "week":
        return _week_page(space)
    return _list_page([space.id], "agenda/list.html", space=space, view="list")


def _week_page(space: Space):
    today = utcnow().astimezone(_viewer_zone()).date()
    day = date_arg("date") or today
    monday = day - timedelta(days=day.weekday())
    start, end = _day_start(monday), _day_start(monday + timedelta(days=7))
    by_day: dict[date, list] = {monday + timedelta(days=n): [] for n in range(7)}
    for occurrence in services.occurrences([space.id], start, end):
        local = services.local_day(occurrence, _viewer_zone())
        by_day.setdefault(max(local, monday), []).append(occurrence)
    return render_template(
        "agenda/week.html",
        space=space,
        view="week",
        days=sorted(by_day.items()),
        today=today,
        monday=monday,
        previous=monday - timedelta(days=7),
        following=monday + timedelta(days=7),
    )


def _month_page(space: Space):
    today = utcnow().astimezone(_viewer_zone()).date()
    month = date_arg("month", month=True) or today.replace(day=1)
    weeks = pycalendar.Calendar(firstweekday=0).monthdatescalendar(month.year, month.month)
    start, end = _day_start(weeks[0][0]), _day_start(weeks[-1][-1] + timedelta(days=1))
    by_day: dict[date, list] = {}
    for occurrence in services.occurrences([space.id], start, end):
        day = services.local_day(occurrence, _viewer_zone())
        last = services.last_local_day(occurrence, _viewer_zone())
        while day <= last:  # an event over several days shows on each
            by_day.setdefault(day, []).append(occurrence)
            day += timedelta(days=1)
    previous = (month - timedelta(days=1)).replace(day=1)
    following = (month + timedelta(days=32)).replace(day=1)
    return render_template(
        "agenda/month.html",
        space=space,
        view="month",
        month=month,
        weeks=weeks,
        by_day=by_day,
        today=today,
        previous=previous,
        following=following,
    )


def _form_to_data(form: EventForm) -> services.EventData:
    return services.EventData(
        title=form.title.data or "",
        start_date=form.start_date.data,
        end_date=form.end_date.data,
        start_time=form.start_time.data,
        end_time=form.end_time.data,
        all_day=form.all_day.data,
        tz=form.tz.data,
        description=form.description.data or "",
        location=form.location.data or "",
        url=form.url.data or "",
        category_id=form.category.data or None,
        repeat=form.repeat.data,
        interval=form.interval.data or 1,
        weekdays=tuple(form.weekdays.data or ()),
        until=form.until.data if form.ends.data == "until" else None,
        count=form.count.data if form.ends.data == "count" else None,
        resource_ids=tuple(r for r in (form.resources.data or []) if r),
    )


def _choices(form) -> None:
    form.category.choices = [SelectChoice(0, _("Sans catégorie"))] + [
        SelectChoice(c.id, c.name) for c in services.list_categories(g.space)
    ]
    form.resources.choices = [SelectChoice(r.id, r.name) for r in services.list_resources(g.space)]


def _event_form(event=None) -> EventForm:
    form = EventForm(obj=None)
    _choices(form)
    if request.method == "GET":
        form.tz.data = event.tz if event else current_app.config["DEFAULT_TIMEZONE"]
        if event is not None:
            _fill(form, event)
    return form


def _fill(form: EventForm, event) -> None:
    tz = ZoneInfo(event.tz)
    start, end = event.starts_at.astimezone(tz), event.ends_at.astimezone(tz)
    if event.all_day:
        end -= timedelta(days=1)
    form.title.data, form.description.data, form.location.data, form.url.data = (
        event.title,
        event.description,
        event.location,
        event.url,
    )
    form.start_date.data, form.end_date.data, form.all_day.data = start.date(), end.date(), event.all_day
    form.start_time.data, form.end_time.data = (None, None) if event.all_day else (start.time(), end.time())
    form.category.data = event.category_id or 0
    form.resources.data = [b.resource_id for b in event.bookings]
    rule = dict(part.split("=", 1) for part in (event.rrule or "").split(";") if "=" in part)
    if event.rrule and recurrence.shape_problem(event.rrule) is not None:
        rule = {}  # a rule written without the check: the form offers to save the event without it
    freq = rule.get("FREQ")
    if freq == "MONTHLY":
        form.repeat.data = "monthly_date" if "BYMONTHDAY" in rule else "monthly_weekday"
    else:
        form.repeat.data = {"DAILY": "daily", "WEEKLY": "weekly", "YEARLY": "yearly"}.get(freq, "none")
    form.interval.data = int(rule.get("INTERVAL", 1))
    form.weekdays.data = rule.get("BYDAY", "").split(",") if freq == "WEEKLY" else []
    if "COUNT" in rule:
        form.ends.data, form.count.data = "count", int(rule["COUNT"])
    elif "UNTIL" in rule:
        value = rule["UNTIL"]
        if "T" in value:
            until = datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=ZoneInfo("UTC")).astimezone(tz).date()
        else:
            until = services.parse_until(value)
        form.ends.data, form.until.data = "until", until


@bp.route("/agenda/new", methods=["GET", "POST"])
def new_event():
    """Create an event or a series (members and admins)."""
    require(g.space.can_write(current_user))
    form = _event_form()
    if request.method == "GET" and (day := date_arg("date")):
        form.start_date.data = form.end_date.data = day
    return save_form(
        form,
        lambda: _with_attachments(services.create_event(g.space, current_user, _form_to_data(form)), form),
        message=_("L'événement est ajouté à l'agenda."),
        done=lambda event: url_for("agenda.show_event", event_id=event.id),
        render=lambda: render_template("agenda/form.html", space=g.space, form=form, event=None),
    )


def _with_attachments(event, form):
    documents.attach_form_files(
        g.space, "agenda.event", event.id, form.attachments.data, field="attachments", actor=current_user
    )
    return event


def _event(event_id: int):
    return services.get_event(g.space, event_id) or abort(404)


@bp.get("/agenda/<int:event_id>/")
def show_event(event_id: int):
    """An event (or one occurrence of a series, with ?at=) and its next dates."""
    event = _event(event_id)
    now = utcnow()
    coming = services.coming_dates(event, now) if event.rrule else []
    zone = ZoneInfo(event.tz)
    first_day = event.starts_at.astimezone(zone).date()
    last_day = (event.ends_at - timedelta(seconds=1)).astimezone(zone).date()
    return render_template(
        "agenda/event.html",
        space=g.space,
        event=event,
        coming=coming,
        attachments=documents.attachments_for(g.space, "agenda.event", [event.id]).get(event.id),
        first_day=first_day,
        last_day=last_day,
    )


@bp.route("/agenda/<int:event_id>/edit", methods=["GET", "POST"])
def edit_event(event_id: int):
    """Change an event, or a whole series (its author or a space admin)."""
    event = _event(event_id)
    require(event.can_edit(current_user))
    form = _event_form(event)
    return save_form(
        form,
        lambda: (
            services.update_event(g.space, event, _form_to_data(form)),
            _with_attachments(event, form),
            services.notify_event(g.space, event, current_user, "agenda.changed"),
        ),
        message=_("L'événement est modifié."),
        done=lambda _none: url_for("agenda.show_event", event_id=event.id),
        render=lambda: render_template("agenda/form.html", space=g.space, form=form, event=event),
    )


@bp.route("/agenda/<int:event_id>/occurrence", methods=["GET", "POST"])
def edit_occurrence(event_id: int):
    """Change one date of a series, or that date and the following ones."""
    event = _event(event_id)
    require(event.can_edit(current_user))
    original = services.parse_key(request.values.get("at", ""))
    if original is None or not event.rrule:
        abort(404)
    current = services.get_override(event, original) or event
    form = OccurrenceForm()
    _choices(form)
    if request.method == "GET":
        _fill(form, event)
        tz = ZoneInfo(current.tz)
        start = original if current is event else current.starts_at
        end = start + (event.ends_at - event.starts_at) if current is event else current.ends_at
        last = end - timedelta(days=1) if event.all_day else end  # the form shows the last day, not the day after
        form.start_date.data, form.end_date.data = start.astimezone(tz).date(), last.astimezone(tz).date()
        if not event.all_day:
            form.start_time.data, form.end_time.data = start.astimezone(tz).time(), end.astimezone(tz).time()
        form.title.data, form.location.data = current.title, current.location
        form.tz.data = current.tz
        if form.ends.data == "count":
            form.count.data = services.remaining_count(event, original)

    def save():
        data = _form_to_data(form)
        if form.scope.data == "following":
            return services.split_series(g.space, event, original, data, current_user)
        changed = services.edit_occurrence(g.space, event, original, data)
        services.notify_event(g.space, changed, current_user, "agenda.changed")
        return changed

    return save_form(
        form,
        save,
        message=_("La date est modifiée."),
        done=lambda saved: url_for("agenda.show_event", event_id=saved.id),
        render=lambda: render_template(
            "agenda/occurrence.html",
            space=g.space,
            form=form,
            event=event,
            original=original,
            key=request.values.get("at", ""),
        ),
    )


@bp.post("/agenda/<int:event_id>/delete")
def delete_event(event_id: int):
    """Delete an event or a whole series."""
    event = _event(event_id)
    require(event.can_delete(current_user))
    services.notify_event(g.space, event, current_user, "agenda.changed" if event.parent_id else "agenda.cancelled")
    services.delete_event(g.space, event)
    db.session.commit()
    flash(_("L'événement est supprimé."), "success")
    return redirect(url_for("agenda.show_agenda"))


@bp.post("/agenda/<int:event_id>/cancel")
def cancel_occurrence(event_id: int):
    """Cancel one date of a series; the others stay."""
    event = _event(event_id)
    require(event.can_edit(current_user))
    original = services.parse_key(request.form.get("at", ""))
    if original is None:
        abort(400)
    services.cancel_occurrence(g.space, event, original)
    services.notify_event(g.space, event, current_user, "agenda.changed")
    db.session.commit()
    flash(_("Cette date est annulée ; les autres restent."), "success")
    return redirect(url_for("agenda.show_event", event_id=event.id))


@bp.route("/agenda/resources/", methods=["GET", "POST"])
def resources():
    """Rooms and equipment events can book (space admins add them)."""
    form = ResourceForm()
    if request.method == "POST":
        require(g.space.can_manage(current_user))
    return save_form(
        form,
        lambda: services.save_resource(g.space, name=form.name.data, description=form.description.data or ""),
        message=_("La ressource est ajoutée."),
        done=lambda _r: url_for("agenda.resources"),
        render=lambda: render_template(
            "agenda/resources.html", space=g.space, form=form, resources=services.list_resources(g.space)
        ),
    )


@bp.route("/agenda/categories/", methods=["GET", "POST"])
def categories():
    """Event categories of the space (space admins add them)."""
    form = CategoryForm()
    if request.method == "POST":
        require(g.space.can_manage(current_user))
    return save_form(
        form,
        lambda: services.save_category(g.space, name=form.name.data, colour=form.colour.data),
        message=_("La catégorie est ajoutée."),
        done=lambda _c: url_for("agenda.categories"),
        render=lambda: render_template(
            "agenda/categories.html", space=g.space, form=form, categories=services.list_categories(g.space)
        ),
    )


@bp.route("/agenda/import", methods=["GET", "POST"])
def import_calendar():
    """Upload an .ics file and see what it will create or update, before anything is written."""
    require(g.space.can_write(current_user))
    form = CalendarImportForm()
    if not form.validate_on_submit():
        status = 400 if request.method == "POST" else 200
        return render_template("agenda/import.html", space=g.space, form=form, plan=None), status
    with form.file.data.stream as stream:
        raw = stream.read(importer.MAX_BYTES + 1)
    try:
        plan = importer.plan_import(g.space, raw, current_app.config["DEFAULT_TIMEZONE"], current_user)
    except ServiceError as exc:
        apply_service_error(form, exc)
        return render_template("agenda/import.html", space=g.space, form=form, plan=None), exc.status
    return render_template("agenda/import.html", space=g.space, form=form, plan=plan, encoded=preview_token(raw))


@bp.post("/agenda/import/confirm")
def confirm_import():
    """Import a previewed file: every event or none."""
    require(g.space.can_write(current_user))
    raw = previewed_file()
    form = CalendarImportForm(formdata=None)
    try:
        plan = importer.plan_import(g.space, raw, current_app.config["DEFAULT_TIMEZONE"], current_user)
        importer.apply_import(g.space, plan, current_user)
    except ServiceError as exc:
        db.session.rollback()
        apply_service_error(form, exc)
        return render_template("agenda/import.html", space=g.space, form=form, plan=None), exc.status
    db.session.commit()
    flash(
        _(
            "Import terminé : %(created)s ajoutés, %(updated)s mis à jour, %(same)s déjà à jour.",
            created=plan.count("create"),
            updated=plan.count("update"),
            same=plan.count("unchanged"),
        ),
        "success",
    )
    if plan.skipped:
        flash(
            ngettext(
                "%(num)s événement du fichier n'a pas été importé (l'aperçu disait pourquoi).",
                "%(num)s événements du fichier n'ont pas été importés (l'aperçu disait pourquoi).",
                len(plan.skipped),
            ),
            "error",
        )
    return redirect(url_for("agenda.show_agenda"))


# Subscriptions and feeds ------------------------------------------------------------------


class FeedCache:
    """Feeds already built in this process, by version (the ETag): an unchanged agenda is not rebuilt.

    The version changes with any change of the feed's events, names or window, so an entry is never
    stale; the least recently used go first beyond `limit` bytes. A feed missing from the cache is
    built by one thread while the others asking for it wait: after a change, the subscribers'
    apps ask all at once, and each build holds a few MB.
    """

    def __init__(self, limit: int):
        self.limit, self.size = limit, 0
        self.entries: OrderedDict[str, bytes] = OrderedDict()
        self.lock = threading.Lock()
        self.building: dict[str, threading.Lock] = {}

    def get_or_build(self, key: str, build: Callable[[], bytes]) -> bytes:
        body = self.get(key)
        if body is not None:
            return body
        with self.lock:
            turn = self.building.setdefault(key, threading.Lock())
        try:
            with turn:
                body = self.get(key)
                if body is None:
                    body = build()
                    self.put(key, body)
                return body
        finally:
            with self.lock:
                if self.building.get(key) is turn:
                    del self.building[key]

    def get(self, key: str) -> bytes | None:
        with self.lock:
            body = self.entries.get(key)
            if body is not None:
                self.entries.move_to_end(key)
            return body

    def put(self, key: str, body: bytes) -> None:
        if len(body) > self.limit // 4:
            return
        with self.lock:
            if key not in self.entries:
                self.entries[key] = body
                self.size += len(body)
            while self.size > self.limit:
                _key, dropped = self.entries.popitem(last=False)
                self.size -= len(dropped)


FEEDS = FeedCache(limit=16 * 1024 * 1024)


def _feed_response(space_ids: list[int], name: str, prefix: bool, tasks: list | None = None):
    etag, last_modified = ical.feed_version(space_ids, name)
    if tasks:
        version = ",".join(f"{t.id}:{t.updated_at.isoformat()}" for t in tasks)
        etag = hashlib.sha256(f"{etag}|{version}".encode()).hexdigest()[:32]
    headers = {"Cache-Control": "private, max-age=900", "ETag": f'"{etag}"'}
    if last_modified is not None:
        headers["Last-Modified"] = last_modified.strftime("%a, %d %b %Y %H:%M:%S GMT")
    if etag in request.if_none_match:
        return Response(status=304, headers=headers)
    body = FEEDS.get_or_build(etag, lambda: ical.build_feed(space_ids, name, prefix_space_names=prefix, tasks=tasks))
    return Response(
        body,
        mimetype="text/calendar",
        headers={
            **headers,
            "Content-Type": "text/calendar; charset=utf-8",
            "Content-Disposition": 'inline; filename="agenda.ics"',
        },
    )


@bp.get("/agenda.ics")
def space_feed():
    """The space's agenda as iCalendar, for someone logged in (downloads, or quick checks)."""
    return _feed_response([g.space.id], g.space.name, prefix=False)


@bp.route("/agenda/subscribe", methods=["GET", "POST"])
def subscribe():
    """Make a private subscription address for this space, and explain how to use it."""
    if request.method == "POST":
        raw = services.new_token(current_user, g.space)
        db.session.commit()
        keep_secret(f"ical-{g.space.id}", raw)
        return redirect(url_for("agenda.subscribe"))
    raw = kept_secret(f"ical-{g.space.id}")
    existing = db.session.scalar(
        select(IcalToken).where(IcalToken.user_id == current_user.id, IcalToken.space_id == g.space.id)
    )
    return render_template("agenda/subscribe.html", space=g.space, existing=existing, **_addresses(raw))


def _addresses(raw: str | None) -> dict:
    if not raw:
        return {"https_url": None, "webcal_url": None}
    https_url = secret_url("ical.feed", token=raw)
    return {"https_url": https_url, "webcal_url": "webcal://" + https_url.split("://", 1)[1]}


@feeds_bp.get("/ical/<token>.ics")
@csrf.exempt
def feed(token: str):
    """A private subscription feed: a bad, revoked or orphaned token is simply not found."""
    found = services.find_token(token)
    if found is None:
        abort(404)
    user = found.user
    tasks = None
    if found.space_id is not None:
        space_ids, name, prefix = [found.space_id], found.space.name, False
    else:
        space_ids = services.agenda_space_ids(user)
        name, prefix = _("Mes espaces — %(site)s", site=current_app.config["SITE_NAME"]), True
        if user.tasks_in_feed:
            from agora.tasks.services import my_open_tasks

            task_spaces = [
                s.space_id for s in user.memberships if not s.space.is_archived and s.space.has_module("tasks")
            ]
            tasks = [t for t in my_open_tasks(user, task_spaces) if t.due_on]
    now = utcnow()
    if found.last_used_at is None or now - found.last_used_at > timedelta(minutes=10):
        found.last_used_at = now  # written at most every ten minutes: feeds are polled often
        db.session.commit()
    return _feed_response(space_ids, name, prefix, tasks)


@mine_bp.get("/agenda/")
@login_required
def my_agenda():
    """My agenda: the coming days of every space I belong to."""
    space_ids = services.agenda_space_ids(current_user)
    raw = kept_secret("ical-all")
    return _list_page(space_ids, "agenda/mine.html", **_addresses(raw))


@mine_bp.post("/agenda/subscribe")
@login_required
def subscribe_all():
    """Make the private address of the feed with all my spaces."""
    raw = services.new_token(current_user, None)
    db.session.commit()
    keep_secret("ical-all", raw)
    return redirect(url_for("my_agenda.my_agenda") + "#subscribe")


@mine_bp.post("/agenda/subscriptions/<int:token_id>/revoke")
@login_required
def revoke_token(token_id: int):
    """Stop one subscription address; the others keep working."""
    if not services.revoke_token(current_user, token_id):
        abort(404)
    db.session.commit()
    flash(_("Cette adresse d'abonnement ne fonctionne plus."), "success")
    return redirect(url_for("auth.profile") + "#subscriptions-heading")
