"""Search with Whoosh's embedded indexes, one per space, in the instance folder (agora.search.index).

A person's search reads only their spaces' indexes. It is run as tiers, one after the other:
every word in the title as typed, then in another form (« réunion » for « réunions »); then the
words as typed anywhere, then in any form anywhere. An entry is found by the first tier that
matches it, and a tier's entries are equally relevant: the nearest to today come first, the most
recent of what was written, the soonest of what is planned. Matches are bitmaps (agora.search.matching):
a common word's entries are counted in C and only the nearest are read. A page is filled from the
first tiers: once they give enough, the later ones are not looked at.
"""

from __future__ import annotations

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
from agora.search import index, matching
from agora.search.backend import Hit

log = logging.getLogger(__name__)

TIERS = (("title_exact",), ("title",), ("title_exact", "body_exact"), ("title", "body"))
#: Tiers whose entries hold every word in their title.
IN_TITLE = frozenset(TIERS[:2])

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


@lru_cache(maxsize=512)
def parsed(fields: tuple[str, ...], text: str):
    """What people typed, parsed for these fields (kept: Whoosh's parser costs about 0.3 ms a
    parse, and a search parses the same text for each tier; queries are never changed once made)."""
    return parser(fields).parse(text)


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


#: An excerpt's length, in characters: a few words either side of the matches, two passages at most.
EXCERPT = 220
FRAGMENTER = highlight.ContextFragmenter(maxchars=EXCERPT, surround=60)


def _opening(body: str) -> str:
    """The excerpt of an entry found by its title alone: how its text begins (the title, shown
    above it, is not read again for a match that is already in sight)."""
    if len(body) <= EXCERPT:
        return str(escape(body))
    return str(escape(body[:EXCERPT].rsplit(" ", 1)[0])) + "…"


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
        try:
            query = parsed(("title", "body"), text)
        except Exception as exc:  # Whoosh's parser fails on some runs of operators ("NOT NOT jardin")  # noqa: BLE001
            log.info("search query %r not parsed: %s", text, exc)
            raise ServiceError(
                _l("Cette recherche n’a pas pu être lue : essayez sans AND, OR ni NOT."), field="q"
            ) from None
        if _is_empty(query):
            raise ServiceError(_l("Ces mots sont trop courants pour chercher : ajoutez un mot plus précis."), field="q")
        if _too_broad(query):
            raise ServiceError(_l("Tapez au moins deux lettres avant l’étoile."), field="q")
        return text, query

    def find(self, query, shown: dict[int, tuple[str, ...] | None], *, skip: int, limit: int) -> tuple[list[Hit], bool]:
        text, marked = query
        # Only the best skip + limit + 1 are picked: a common word's every entry is counted in its
        # bitmaps, but only those nearest to today are read.
        wanted = skip + limit + 1
        with SEARCHING:
            # Only these spaces' indexes are read: the readers are kept by the process for its next search.
            searcher, leaf_spaces = index.searcher(shown)
            if searcher is None:
                return [], False
            context, now = searcher.boolean_context(), index.today()
            leaves = searcher.leaf_searchers()
            # In each segment, the entries of the modules its space shows (None: every module).
            allowed = [
                None if shown.get(space_id) is None else matching.module_bits(leaf.reader(), shown[space_id])
                for (leaf, _offset), space_id in zip(leaves, leaf_spaces, strict=True)
            ]
            found_before = [0] * len(leaves)
            hits: list[tuple[int, bool]] = []  # (document number, found in the title)
            for fields in TIERS:
                tier = parsed(fields, text)
                if _is_empty(tier):
                    continue
                nearest = []
                for n, (leaf, offset) in enumerate(leaves):
                    # An entry is found by the first tier that matches it.
                    bits = matching.matches(leaf, tier, context) & ~found_before[n]
                    if allowed[n] is not None:
                        bits &= allowed[n]
                    found_before[n] |= bits
                    picked = matching.nearest(leaf.reader(), bits, wanted - len(hits), now)
                    nearest.extend((away, offset + docnum) for away, docnum in picked)
                nearest.sort()
                hits.extend((docnum, fields in IN_TITLE) for _away, docnum in nearest[: wanted - len(hits)])
                if len(hits) >= wanted:
                    break
            page, words = [], None
            # One per search: it numbers the words it marks, and keeps them.
            formatter = highlight.HtmlFormatter(tagname="mark", classname="match", termclass="term")
            for docnum, in_title in hits[skip : skip + limit]:
                stored = searcher.stored_fields(docnum)
                excerpt = ""
                if not in_title:
                    if words is None:
                        # The words marked in any form, whichever tier found the entry ("bud*" expanded).
                        body = index.SCHEMA["body"]
                        words = frozenset(
                            body.from_bytes(term)
                            for _field, term in marked.existing_terms(searcher.reader(), fieldname="body", expand=True)
                        )
                    excerpt = highlight.highlight(
                        stored["body"], words, index.FRENCH, FRAGMENTER, formatter, top=2, mode="index"
                    )
                page.append(
                    Hit(
                        kind=stored["kind"],
                        object_id=int(stored["object_id"]),
                        space_id=int(stored["space_id"]),
                        date=stored.get("date"),
                        # Found by its title: how its text begins, the title being shown above it.
                        excerpt=excerpt or _opening(stored["body"]),
                    )
                )
            return page, len(hits) == wanted
