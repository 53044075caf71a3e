"""A search's matches as bitmaps, and the nearest to today picked among them.

Whoosh's matchers walk a common word's entries one at a time in Python, and intersecting two
common words walked both. Here each (segment, field, term) is read from the postings once into an
integer whose bits are the segment's entries holding it, and kept while the segment lives: a
query's words and fields are then combined with `&` and `|` on those integers, in C, whatever the
number of entries. Phrases, prefixes and anything else fall back to Whoosh's own matcher, whose
matches become a bitmap the same way.

The entries found are then ranked by date alone, nearest to today first, either way (the distance
`abs(date - now)`, in Whoosh's microseconds: the newest of what was written, the soonest of what is
planned, an entry with no date, 0, the furthest), picked
from a bitmap in one of two ways, whichever reads fewer entries: its entries one by one when they
are few, or else the segment's entries in order of date, from today outwards, until enough of
them are found (a common word's entries are dense: the walk stops soon).
"""

from __future__ import annotations

import bisect
import heapq
import re
import sys
import threading
import weakref
from array import array
from collections import OrderedDict
from functools import reduce
from operator import or_

from whoosh.query import And, Or, Term

from agora.search import index

#: How many bytes of bitmaps a process keeps (least recently used dropped first): one bitmap is an
#: eighth of a byte per entry of its segment, 2 KB for a space of 18,000 entries.
MAX_BITMAP_BYTES = 8 * 1024 * 1024
_bitmaps: OrderedDict[tuple, int] = OrderedDict()
_kept_bytes = 0
_lock = threading.Lock()


def _from_ids(docnums, size: int) -> int:
    found = bytearray((size + 7) // 8)
    for docnum in docnums:
        found[docnum >> 3] |= 1 << (docnum & 7)
    return int.from_bytes(found, "little")


def term_bits(reader, field: str, text: str) -> int:
    """The segment's entries holding this term, as an integer's bits (kept, 0 for a word it lacks).
    Some may have been deleted since: `matches` leaves them out."""
    segment = index.segment_key(reader)
    if segment is None:
        return 0
    key = (*segment, field, text)
    with _lock:
        bits = _bitmaps.get(key)
        if bits is not None:
            _bitmaps.move_to_end(key)
            return bits
    bits = _from_ids(reader.postings(field, text).all_ids(), reader.doc_count_all()) if (field, text) in reader else 0
    global _kept_bytes
    with _lock:
        if key not in _bitmaps:
            _bitmaps[key] = bits
            _kept_bytes += _size(key, bits)
        while _kept_bytes > MAX_BITMAP_BYTES and _bitmaps:
            dropped = _bitmaps.popitem(last=False)
            _kept_bytes -= _size(*dropped)
    return bits


def _size(key: tuple, bits: int) -> int:
    """What one kept bitmap costs: the integer, its key's strings and tuple, the dictionary's entry."""
    return sys.getsizeof(bits) + sum(sys.getsizeof(part) for part in key) + sys.getsizeof(key) + 100


def forget() -> None:
    """Drop every kept bitmap (a test starts anew)."""
    global _kept_bytes
    with _lock:
        _bitmaps.clear()
        _kept_bytes = 0


def matches(leaf, query, context) -> int:
    """The live entries of one segment (`leaf`, a searcher on it) that `query` matches, as bits."""
    found, reader = _query_bits(leaf, query, context), leaf.reader()
    if found and reader.has_deletions():
        # A term's bitmap kept from before the latest deletions still holds them.
        found &= ~_deleted(reader)
    return found


#: The deleted entries of each open reader, as bits (a reader's deletions never change).
_deleted_bits: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _deleted(reader) -> int:
    with _lock:
        bits = _deleted_bits.get(reader)
    if bits is None:
        bits = _from_ids(reader.deleted_docs_set, reader.doc_count_all())
        with _lock:
            _deleted_bits[reader] = bits
    return bits


def _query_bits(leaf, query, context) -> int:
    if isinstance(query, Term):
        return term_bits(leaf.reader(), query.fieldname, query.text)
    if type(query) in (And, Or):  # not their kinds (Ordered, AndMaybe...): those are matched by Whoosh
        parts = (_query_bits(leaf, sub, context) for sub in query.subqueries)
        if isinstance(query, Or):
            return reduce(or_, parts, 0)
        found = -1
        for part in parts:
            found &= part
            if not found:
                return 0
        return found if found != -1 else 0
    matcher = query.matcher(leaf, context)
    if not matcher.is_active():
        return 0
    return _from_ids(matcher.all_ids(), leaf.reader().doc_count_all())


def module_bits(reader, modules: tuple[str, ...]) -> int:
    """The segment's entries of these modules."""
    return reduce(or_, (term_bits(reader, "module", module) for module in modules), 0)


@index.PerSegment
def _by_date(reader) -> tuple[array, array]:
    """The segment's entries in order of date, and their dates in that order."""
    dates = index.segment_dates(reader)
    order = sorted(range(len(dates)), key=dates.__getitem__)
    return array("q", map(dates.__getitem__, order)), array("i", order)


#: Further than any entry from today.
FURTHEST = 2**64

#: The positions of the bits set in each byte value.
_ONES = tuple(tuple(bit for bit in range(8) if value >> bit & 1) for value in range(256))


#: A byte with a bit set.
_SET = re.compile(rb"[^\x00]")


def ones(bits: int) -> list[int]:
    """The positions of the bits set in `bits`, lowest first."""
    data = bits.to_bytes((bits.bit_length() + 7) // 8, "little")
    if bits.bit_count() * 4 < len(data):  # sparse: the bytes holding none are skipped in C
        return [found.start() * 8 + bit for found in _SET.finditer(data) for bit in _ONES[data[found.start()]]]
    return [position * 8 + bit for position, byte in enumerate(data) if byte for bit in _ONES[byte]]


def nearest(reader, bits: int, count: int, now: int) -> list[tuple[int, int]]:
    """Up to `count` entries among `bits` nearest to today, as (distance, docnum), nearest first; of
    entries as far from today, the lowest numbers first (the order `find` pages through)."""
    found = bits.bit_count()
    if not found or count <= 0:
        return []
    size = reader.doc_count_all()
    # Whichever reads fewer entries: all those found, or the walk's steps until `count` are met
    # (about count × size / found); each costs about the same (measured at scale 10).
    if found * found <= count * size:
        return _enumerated(reader, bits, count, now)
    return _walked(reader, bits, count, now)


def _enumerated(reader, bits: int, count: int, now: int) -> list[tuple[int, int]]:
    """Each entry found, its date read."""
    dates = index.segment_dates(reader)
    return sorted([(abs(dates[docnum] - now), docnum) for docnum in ones(bits)])[:count]


def _walked(reader, bits: int, count: int, now: int) -> list[tuple[int, int]]:
    """The segment's entries in order of date, from today outwards, until `count` are among `bits`."""
    sorted_dates, order = _by_date(reader)
    size = len(order)
    data = bits.to_bytes((size + 7) // 8, "little")
    before = bisect.bisect_left(sorted_dates, now) - 1
    after = before + 1
    picked: list[tuple[int, int]] = []
    while len(picked) < count and (before >= 0 or after < size):
        # The entries as far from today as the next one, on either side, lowest numbers first (the
        # order `find` pages through): the date sort is stable, so equal dates are in that order.
        away = min(
            now - sorted_dates[before] if before >= 0 else FURTHEST,
            sorted_dates[after] - now if after < size else FURTHEST,
        )
        groups = []
        if before >= 0 and now - sorted_dates[before] == away:
            first = before
            if before and sorted_dates[before - 1] == sorted_dates[before]:
                first = bisect.bisect_left(sorted_dates, sorted_dates[before], 0, before)
            groups.append(order[first : before + 1])
            before = first - 1
        if after < size and sorted_dates[after] - now == away:
            end = after + 1
            if end < size and sorted_dates[end] == sorted_dates[after]:
                end = bisect.bisect_right(sorted_dates, sorted_dates[after], after)
            groups.append(order[after:end])
            after = end
        for docnum in groups[0] if len(groups) == 1 else heapq.merge(*groups):
            if data[docnum >> 3] >> (docnum & 7) & 1:
                picked.append((away, docnum))
                if len(picked) == count:
                    break
    return picked
