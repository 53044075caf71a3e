"""The shapes of the module registry, and how code below `agora.modules` reads it.

`agora.modules` (the top layer) lists one `Module` per feature; the factory keeps that list in
`app.extensions["agora.modules"]`. Search, notifications and templates read it from there through
the functions below, so no feature and no lower layer ever imports `agora.modules`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import current_app

EXTENSION = "agora.modules"


@dataclass
class Entry:
    """What the search index keeps of one item (a feature's builder makes it from the database)."""

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
        return {
            "key": self.key,
            "kind": self.kind,
            "module": self.module,
            "space_id": str(self.space_id),
            "object_id": self.object_id,
            "title": self.title,
            "body": self.body,
            "date": self.date,
        }


def entry_key(kind: str, object_id: int) -> str:
    """The index key of an item: "forum.topic:12"."""
    return f"{kind}:{object_id}"


@dataclass(frozen=True)
class SearchKind:
    """One kind of indexed item.

    `build(object_id, **options)` returns an Entry, or None when the item must not be found
    (options: `full=False` when only a hit's title and place are needed, `trees` a per-run cache).
    `model` and `where` list the rows a rebuild indexes; `url(slug, object_id, entry)` is where a
    hit leads; `preload` gives loader options to fetch a page of hits a kind at a time (None: the
    builder loads what it needs itself);
    `related(object_id)` names other (kind, id) to refresh when this one changes."""

    kind: str
    build: Callable[..., Entry | None]
    model: Any
    url: Callable[[str, int, Entry], str]
    where: Callable[[], Any] | None = None
    preload: Callable[[], tuple] | None = tuple
    related: Callable[[int], list[tuple[str, int]]] | None = None


@dataclass(frozen=True)
class Reference:
    """A (kind, id) pointer kept in a row of `holder` to an object of `target` in the same space.

    `kind` is the value in the holder's `kind_column` (None when the column itself says what it
    points to, like Notification.event_id). When a target row is deleted, its references go:
    `cleanup` in agora.core.references deletes the holder rows (or empties `id_column` with `nullify`)."""

    holder: Any
    id_column: str
    target: Any
    kind: str | None = None
    kind_column: str | None = None
    nullify: bool = False


@dataclass(frozen=True)
class NavEntry:
    """A link in a space's menu: `endpoint` of the space blueprint, shown while `blueprint` is current."""

    label: Any
    endpoint: str
    blueprint: str


@dataclass(frozen=True)
class Page:
    """A page the test walks visit: a path under the space ("/forum/{topic_id}/"), whose fields
    are filled from tests/factories.py, or outside it when `in_space` is False."""

    path: str
    in_space: bool = True


@dataclass(frozen=True)
class NotificationKind:
    """What a person chooses how to hear about ("reply"): the question of the preferences page, the
    delivery when neither they nor the space chose, and the subject of a grouped mail
    (%(count)s, %(title)s)."""

    name: str
    label: Any
    default: str
    group_subject: Any


@dataclass(frozen=True)
class Panel:
    """A block a module shows on a page of another (the space's home, my profile, a member's card).

    `context(space, user)` returns the variables of `template`, a partial the module owns, or None
    when there is nothing to show. `space` is None on my profile (outside any space); `user` is the
    person the page is about (me, or the member whose card it is)."""

    template: str
    context: Callable[[Any, Any], dict | None]


@dataclass(frozen=True)
class Module:
    """Everything a module owes the rest of Agora, declared once."""

    name: str
    label: Any  #: in the space settings and search filters
    icon: str  #: a name for the menu's icon set
    blueprints: tuple = ()
    nav: tuple[NavEntry, ...] = ()
    #: False: always on (the space's home, its settings); True: a space admin may switch it off.
    switchable: bool = True
    search: tuple[SearchKind, ...] = ()
    #: Activity verb -> the words before its title on the space's home ("Nouveau sujet :").
    activity: dict = field(default_factory=dict)
    #: Notification verb -> the sentence of the bell and the mails (%(actor)s, %(title)s).
    notifications: dict = field(default_factory=dict)
    #: What people choose how to hear about (several of the verbs above share one kind).
    notification_kinds: tuple[NotificationKind, ...] = ()
    #: Attachment kinds (documents attached to this module's items) and what they point to.
    references: tuple[Reference, ...] = ()
    #: Panels on a space's home, on my profile and on a member's card in a space, in that order.
    home_panels: tuple[Panel, ...] = ()
    profile_panels: tuple[Panel, ...] = ()
    member_panels: tuple[Panel, ...] = ()
    #: Pages the XSS, accessibility and query-budget walks visit.
    pages: tuple[Page, ...] = ()
    #: `agora demo`: seed(space, people by username, the demo admin or None) adds the module's
    #: content to a new demo space (agora/demo.py makes the people, spaces and news first).
    demo: Callable | None = None
    #: `agora demo --spaces N --scale K`: seed_scale(ScaleContext) writes the module's share of a
    #: generated space in bulk (agora/scale.py makes the people and spaces, and calls them in order).
    scale: Callable[[ScaleContext], None] | None = None


@dataclass
class ScaleContext:
    """What a module's scale seeder gets: the space, its members, a seeded generator, the wanted
    counts (agora.scale.PER_SPACE times the scale), and helpers to write rows in bulk."""

    space: Any
    members: list[int]
    writers: list[int]
    rng: Any
    now: Any
    want: dict[str, int]
    html: Callable[[str], str]  #: Markdown to HTML, cached
    bulk: Callable[[Any, list[dict]], None]  #: insert rows of a model
    sentence: Callable[[], str]  #: a French sentence from the generator
    subjects: list[str]
    places: list[str]


def modules() -> tuple[Module, ...]:
    """The running app's modules, in menu order."""
    return current_app.extensions[EXTENSION]


def module(name: str) -> Module | None:
    return next((m for m in modules() if m.name == name), None)


def search_kinds() -> dict[str, SearchKind]:
    """Every indexed kind: {"forum.topic": SearchKind...}."""
    return {k.kind: k for m in modules() for k in m.search}


def searchable_modules() -> dict[str, Any]:
    """Modules with something to find, with their menu labels ("Annuaire"), in menu order."""
    return {m.name: m.nav[0].label if m.nav else m.label for m in modules() if m.search}


def activity_labels() -> dict[str, Any]:
    return {verb: label for m in modules() for verb, label in m.activity.items()}


def notification_verbs() -> dict[str, Any]:
    return {verb: text for m in modules() for verb, text in m.notifications.items()}


def notification_kinds() -> dict[str, NotificationKind]:
    """Every kind of the preferences page, in menu order: {"reply": NotificationKind...}."""
    return {k.name: k for m in modules() for k in m.notification_kinds}


def references() -> list[Reference]:
    return [r for m in modules() for r in m.references]


PANEL_PAGES = ("home", "profile", "member")


def panels(page: str, space, user) -> list[tuple[str, dict]]:
    """(template, context) of the `page` panels with something to show, in menu order. In a space,
    only the modules it has switched on show theirs."""
    if page not in PANEL_PAGES:
        raise ValueError(f"no such panel page: {page}")
    shown = []
    for m in modules():
        if space is not None and m.switchable and not space.has_module(m.name):
            continue
        for panel in getattr(m, f"{page}_panels"):
            context = panel.context(space, user)
            if context is not None:
                shown.append((panel.template, context))
    return shown
