"""Searching: which spaces and modules a person may search, the engine's hits, reloaded and checked.

The search engine (agora.search.backend) only narrows things down. It is asked for the person's
spaces alone, so other spaces are never walked and even the number of results says nothing about
them; every hit is reloaded from the database and shown only if the page it leads to would show it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select

from agora.core import registry
from agora.core.services import ServiceError
from agora.extensions import db
from agora.search.backend import Hit, backend
from agora.spaces.models import Membership, Space

MAX_QUERY = 300
PER_PAGE = 20


@dataclass
class Result:
    space: Space
    module: str
    title: str
    url: str
    excerpt: Markup
    date: datetime | None


@dataclass
class SearchPage:
    results: list[Result] = field(default_factory=list)
    total: int = 0
    exact: bool = True  #: False: there are more than `total`
    number: int = 1
    has_next: bool = False

    @property
    def has_prev(self) -> bool:
        return self.number > 1


def viewable_spaces(user) -> dict[int, Space]:
    spaces = db.session.scalars(
        select(Space)
        .join(Membership, Membership.space_id == Space.id)
        .where(Membership.user_id == user.id, Space.archived_at.is_(None))
    ).all()
    return {s.id: s for s in spaces}


def search(
    user,
    text: str,
    *,
    space: Space | None = None,
    module: str | None = None,
    number: int = 1,
    spaces: dict[int, Space] | None = None,
) -> SearchPage:
    """Results for `text` in the person's spaces (or one of them, or one module). `spaces` are the
    person's viewable spaces when the caller has them already. Raises ServiceError with a message
    for a query that cannot be searched."""
    text = " ".join((text or "").split())
    if not text:
        raise ServiceError(_l("Tapez un ou plusieurs mots à chercher."), field="q")
    if len(text) > MAX_QUERY:
        raise ServiceError(_l("Cette recherche est trop longue : %(n)s caractères au plus.", n=MAX_QUERY), field="q")
    spaces = viewable_spaces(user) if spaces is None else spaces
    if space is not None:
        spaces = {space.id: space} if space.id in spaces else {}
    # What each space lets be found: None for every module (no filter needed), else those it shows.
    searchable = registry.searchable_modules()
    shown: dict[int, tuple[str, ...] | None] = {}
    for space_id, found in spaces.items():
        modules = tuple(sorted(m for m in (found.modules or []) if m in searchable and (module is None or m == module)))
        if modules:
            shown[space_id] = None if module is None and len(modules) == len(searchable) else modules
    engine = backend()
    query = engine.parse(text)
    if not shown:
        return SearchPage(number=number)
    skip = (number - 1) * PER_PAGE
    hits, more = engine.find(query, shown, skip=skip, limit=PER_PAGE)
    loaded = _prefetch(hits)  # held here: the session keeps only weak references to what it loaded
    trees: dict = {}
    kinds = registry.search_kinds()
    results = []
    for hit in hits:
        # From the database, with the same rules as indexing (a document's text is not read again).
        searched = kinds.get(hit.kind)
        entry = searched.build(hit.object_id, full=False, trees=trees) if searched else None
        target = spaces.get(hit.space_id)
        if entry is None or target is None or entry.space_id != target.id:
            continue
        results.append(
            Result(
                space=target,
                module=entry.module,
                title=entry.title,
                url=searched.url(target.slug, hit.object_id, entry),
                excerpt=Markup(hit.excerpt),
                date=hit.date,
            )
        )
    del loaded
    # Past the page, the count says "more than": counting every match of a common word would read them all.
    return SearchPage(results=results, total=skip + len(hits), exact=not more, number=number, has_next=more)


def _prefetch(hits: list[Hit]) -> list:
    """Load the page's hits a kind at a time, so that rebuilding each from the database finds it loaded."""
    kinds = registry.search_kinds()
    wanted: dict[str, list[int]] = {}
    for hit in hits:
        wanted.setdefault(hit.kind, []).append(hit.object_id)
    loaded = []
    for kind, ids in wanted.items():
        if kind in kinds and kinds[kind].preload is not None:
            model = kinds[kind].model
            loaded.extend(
                db.session.scalars(select(model).where(model.id.in_(ids)).options(*kinds[kind].preload())).all()
            )
    return loaded


def module_labels() -> dict:
    """The modules a search can be narrowed to, with their labels."""
    return registry.searchable_modules()
