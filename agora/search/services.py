"""Searching: parse a French query, ask the index within the person's spaces, reload and check hits.

The index only narrows things down. Only the person's spaces' indexes are read (one per space),
so other spaces are never walked and even the number of results says nothing about them; every
hit is reloaded from the database and shown only if the page it leads to would show it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime

from flask_babel import lazy_gettext as _l
from markupsafe import Markup
from sqlalchemy import select
from whoosh import highlight
from whoosh.qparser import MultifieldParser, plugins
from whoosh.query import Every, NullQuery, Prefix, Wildcard

from agora.core import registry
from agora.core.services import ServiceError
from agora.extensions import db
from agora.search import index, restriction
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


def parser(fields=("title", "body")):
    qp = MultifieldParser(list(fields), schema=index.SCHEMA)
    # People type words, phrases and prefixes; field names, ranges and boosts are not for them.
    for plugin in (plugins.FieldsPlugin, plugins.RangePlugin, plugins.BoostPlugin, plugins.EveryPlugin):
        qp.remove_plugin_class(plugin)
    return qp


#: The order people expect, as tiers searched one after the other: every word in the title as
#: typed, then in another form (« réunion » for « réunions »); then the words as typed anywhere,
#: then in any form anywhere. Within a tier, Whoosh's BM25F ranks, and at equal relevance the
#: more recent comes first (index.RecentFirst). A page is filled from the first tiers: once they
#: give enough, the later ones (a common word's every entry, often) are not walked at all.
TIERS = (("title_exact",), ("title",), ("title_exact", "body_exact"), ("title", "body"))


def _too_broad(query) -> bool:
    """A query that would match everything: "*", "a*"..."""
    for leaf in query.leaves() if query.is_leaf() is False else [query]:
        if isinstance(leaf, Every):
            return True
        if isinstance(leaf, (Prefix, Wildcard)) and len(leaf.text.strip("*?")) < 2:
            return True
    return False


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
    query = parser().parse(text)
    if query is NullQuery or isinstance(query, type(NullQuery)):
        raise ServiceError(_l("Ces mots sont trop courants pour chercher : ajoutez un mot plus précis."), field="q")
    if _too_broad(query):
        raise ServiceError(_l("Tapez au moins deux lettres avant l’étoile."), field="q")
    if not shown:
        return SearchPage(number=number)
    return _run(text, query, shown, spaces, number)


#: One search at a time per process touches the index: a worker's threads share one CPU (the
#: GIL) anyway, and what a search holds while ranking is then counted once, not per thread.
SEARCHING = threading.Lock()


def _run(
    text: str, query, shown: dict[int, tuple[str, ...] | None], spaces: dict[int, Space], number: int
) -> SearchPage:
    with SEARCHING:
        # Only these spaces' indexes are read: the readers are kept by the thread for its next search.
        searcher, leaf_spaces = index.searcher(shown)
        if searcher is None:
            return SearchPage(number=number)
        # Only the best number * PER_PAGE + 1 are ranked: counting every match of a common word
        # would read every entry of it. Past that, the page says "more than".
        limit = number * PER_PAGE + 1
        allow = restriction.allowed(searcher, leaf_spaces, shown)
        hits, seen = [], set()
        for fields in TIERS:
            tier = parser(fields).parse(text)
            if tier is NullQuery or isinstance(tier, type(NullQuery)):
                continue
            ranked = searcher.search(tier, limit=limit - len(hits), filter=allow, mask=seen or None)
            ranked.q = query  # excerpts mark the words in any form, whichever tier found them
            ranked.fragmenter = highlight.ContextFragmenter(maxchars=220, surround=60)
            ranked.formatter = highlight.HtmlFormatter(tagname="mark", classname="match", termclass="term")
            found = [ranked[n] for n in range(ranked.scored_length())]
            hits.extend(found)
            if len(hits) >= limit:
                break
            # This tier gave fewer than asked: they are all its entries, left out of the next tiers.
            seen.update(hit.docnum for hit in found)
        scored = len(hits)
        hits = hits[(number - 1) * PER_PAGE : number * PER_PAGE]
        found = [
            (
                hit["kind"],
                hit["object_id"],
                hit["space_id"],
                hit.get("date"),
                hit.highlights("body", top=2) or hit.highlights("title"),
            )
            for hit in hits
        ]
        total, exact, last = min(scored, number * PER_PAGE), scored < limit, scored < limit
    loaded = _prefetch(found)  # held here: the session keeps only weak references to what it loaded
    trees: dict = {}
    kinds = registry.search_kinds()
    results = []
    for kind, object_id, space_id, date, excerpt in found:
        # From the database, with the same rules as indexing (a document's text is not read again).
        searched = kinds.get(kind)
        entry = searched.build(object_id, full=False, trees=trees) if searched else None
        target = spaces.get(int(space_id))
        if entry is None or target is None or entry.space_id != target.id:
            continue
        results.append(
            Result(
                space=target,
                module=entry.module,
                title=entry.title,
                url=searched.url(target.slug, object_id, entry),
                excerpt=Markup(excerpt),
                date=date,
            )
        )
    del loaded
    return SearchPage(results=results, total=total, exact=exact, number=number, has_next=not last)


def _prefetch(found: list[tuple]) -> list:
    """Load the page's hits a kind at a time, so that rebuilding each from the database finds it loaded."""
    kinds = registry.search_kinds()
    wanted: dict[str, list[int]] = {}
    for kind, object_id, *_rest in found:
        wanted.setdefault(kind, []).append(int(object_id))
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
