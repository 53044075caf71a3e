"""Search with Whoosh's embedded indexes, one per space, in the instance folder (agora.search.index).

A person's search reads only their spaces' indexes. It is run as tiers, one after the other:
every word in the title as typed, then in another form (« réunion » for « réunions »); then the
words as typed anywhere, then in any form anywhere. The title tiers hold entries equally relevant:
every word is in the title, and the nearest to today come first (their matches are walked without
scoring, which is most of a common word's cost). In the body tiers Whoosh's BM25F ranks, and at
equal relevance the nearest to today comes first (index.RecentFirst). A page is filled from the first
tiers: once they give enough, the later ones (a common word's every entry, often) are not walked.
"""

from __future__ import annotations

import heapq
import logging
import shutil
import threading
from collections.abc import Iterable
from functools import lru_cache

from flask_babel import lazy_gettext as _l
from markupsafe import escape
from whoosh import highlight
from whoosh.qparser import MultifieldParser, plugins
from whoosh.query import Every, NullQuery, Prefix, Wildcard

from agora.core.registry import Entry
from agora.core.services import ServiceError
from agora.search import index, restriction
from agora.search.backend import Hit

log = logging.getLogger(__name__)

TIERS = (("title_exact",), ("title",), ("title_exact", "body_exact"), ("title", "body"))
#: Tiers whose entries are ranked by date alone.
BY_DATE = frozenset(TIERS[:2])

#: One search at a time per process touches the index: a worker's threads share one CPU (the
#: GIL) anyway, and what a search holds while ranking is then counted once, not per thread.
SEARCHING = threading.Lock()


@lru_cache(maxsize=8)
def parser(fields=("title", "body")):
    """The parser of what people type, for these fields (kept: parsing keeps no state in it)."""
    qp = MultifieldParser(list(fields), schema=index.SCHEMA)
    # People type words, phrases and prefixes; field names, ranges and boosts are not for them.
    for plugin in (plugins.FieldsPlugin, plugins.RangePlugin, plugins.BoostPlugin, plugins.EveryPlugin):
        qp.remove_plugin_class(plugin)
    return qp


def _is_empty(query) -> bool:
    return query is NullQuery or isinstance(query, type(NullQuery))


def _too_broad(query) -> bool:
    """A query that would match everything: "*", "a*"..."""
    for leaf in query.leaves() if query.is_leaf() is False else [query]:
        if isinstance(leaf, Every):
            return True
        if isinstance(leaf, (Prefix, Wildcard)) and len(leaf.text.strip("*?")) < 2:
            return True
    return False


#: An excerpt's length, in characters.
EXCERPT = 220


def _opening(body: str) -> str:
    """The excerpt of an entry found by its title alone: how its text begins (the title, shown
    above it, is not read again for a match that is already in sight)."""
    if len(body) <= EXCERPT:
        return str(escape(body))
    return str(escape(body[:EXCERPT].rsplit(" ", 1)[0])) + "…"


def _nearest(searcher, query, count: int, allow, seen: set) -> list[int]:
    """The `count` entries matching `query` nearest to today (top-level document numbers, the
    nearest first), among those `allow` lets be found and not in `seen`. Matches are walked unscored."""
    best: list[tuple[int, int]] = []
    context, now = searcher.boolean_context(), index.today()
    for subsearcher, offset in searcher.leaf_searchers():
        matcher = query.matcher(subsearcher, context)
        if not matcher.is_active():
            continue
        dates = index.segment_dates(subsearcher.reader())
        found = ((-index.distance(dates[docnum], now), offset + docnum) for docnum in matcher.all_ids())
        if allow is not None or seen:
            found = (pair for pair in found if (allow is None or pair[1] in allow) and pair[1] not in seen)
        best = heapq.nlargest(count, [*best, *found])
    return [docnum for _date, docnum in best]


class WhooshBackend:
    def prepare(self) -> None:
        index.ensure_current()

    def is_built(self) -> bool:
        return index.index_dir().exists()

    def reset(self) -> None:
        index.create()

    def replace_space(self, space_id: int, entries: Iterable[Entry]) -> int:
        if index.space_dir(space_id).exists():
            # In place, under the space's write lock: a writer of the background process waits for it.
            w = index.open_index(space_id).writer(timeout=index.WRITE_TIMEOUT, delay=0.05, **index.WRITER_OPTIONS)
            w.delete_by_query(Every())
        else:
            w = index.create_space(space_id).writer(limitmb=64, **index.WRITER_OPTIONS)
        count = 0
        try:
            for entry in entries:
                w.add_document(**index.document(entry.fields()))
                count += 1
        except BaseException:
            w.cancel()
            raise
        w.commit()
        return count

    def write(self, space_id: int, entries: dict[str, Entry | None]) -> None:
        if all(entry is None for entry in entries.values()) and not index.space_dir(space_id).exists():
            return  # nothing to add, and nothing to remove from an index never written (a deleted space)
        with index.writer(space_id) as w:
            for key, entry in entries.items():
                w.delete_by_term("key", key)
                if entry is not None:
                    w.add_document(**index.document(entry.fields()))

    def forget_space(self, space_id: int) -> None:
        try:
            shutil.rmtree(index.space_dir(space_id), ignore_errors=False)
        except FileNotFoundError:
            pass
        except Exception:
            log.exception("search index of deleted space %s not removed; `agora search reindex` will", space_id)

    def parse(self, text: str):
        query = parser().parse(text)
        if _is_empty(query):
            raise ServiceError(_l("Ces mots sont trop courants pour chercher : ajoutez un mot plus précis."), field="q")
        if _too_broad(query):
            raise ServiceError(_l("Tapez au moins deux lettres avant l’étoile."), field="q")
        return text, query

    def find(self, query, shown: dict[int, tuple[str, ...] | None], *, skip: int, limit: int) -> tuple[list[Hit], bool]:
        text, marked = query
        # Only the best skip + limit + 1 are ranked: counting every match of a common word would
        # read every entry of it.
        wanted = skip + limit + 1
        with SEARCHING:
            # Only these spaces' indexes are read: the readers are kept by the process for its next search.
            searcher, leaf_spaces = index.searcher(shown)
            if searcher is None:
                return [], False
            allow = restriction.allowed(searcher, leaf_spaces, shown)
            hits, seen = [], set()
            for fields in TIERS:
                tier = parser(fields).parse(text)
                if _is_empty(tier):
                    continue
                if fields in BY_DATE:
                    found = [(docnum, None) for docnum in _nearest(searcher, tier, wanted - len(hits), allow, seen)]
                else:
                    ranked = searcher.search(tier, limit=wanted - len(hits), filter=allow, mask=seen or None)
                    ranked.q = marked  # excerpts mark the words in any form, whichever tier found them
                    ranked.fragmenter = highlight.ContextFragmenter(maxchars=EXCERPT, surround=60)
                    ranked.formatter = highlight.HtmlFormatter(tagname="mark", classname="match", termclass="term")
                    found = [(hit.docnum, hit) for hit in (ranked[n] for n in range(ranked.scored_length()))]
                hits.extend(found)
                if len(hits) >= wanted:
                    break
                # This tier gave fewer than asked: they are all its entries, left out of the next tiers.
                seen.update(docnum for docnum, _hit in found)
            page = []
            for docnum, hit in hits[skip : skip + limit]:
                stored = hit.fields() if hit is not None else searcher.stored_fields(docnum)
                page.append(
                    Hit(
                        kind=stored["kind"],
                        object_id=int(stored["object_id"]),
                        space_id=int(stored["space_id"]),
                        date=stored.get("date"),
                        # Found by its title: how its text begins, the title being shown above it.
                        excerpt=(hit.highlights("body", top=2) if hit is not None else "") or _opening(stored["body"]),
                    )
                )
            return page, len(hits) == wanted
