"""Which documents of a person's spaces' indexes they may find: the modules each space shows.

Each space has its own index (agora.search.index), so a search reads only the person's spaces:
what is left to restrict is a module a space hides, or the one module a search is narrowed to.
Most searches need no restriction at all. Otherwise the search is filtered by a set of document
numbers rather than joined to a query of module terms: the words' own matching (and Whoosh's
block-quality skipping) stays as fast as unrestricted. The set is built from bitmaps, one per
(segment, module), read from the postings once and kept while the segment lives (segments never
change; deletions are left out by the matcher).
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from whoosh.idsets import DocIdSet

#: Bitmaps kept per process, least recently used dropped first (36 per segment: 30 spaces, 6 modules).
MAX_BITMAPS = 512
_bitmaps: OrderedDict[tuple, int] = OrderedDict()
_lock = threading.Lock()


class Allowed(DocIdSet):
    """Document numbers set in an integer's bits (only membership is asked of it)."""

    def __init__(self, bits: int, size: int):
        self.bytes = bits.to_bytes((size + 7) // 8 or 1, "little")

    def __bool__(self) -> bool:
        # Whoosh asks `if allow:` before each search; without this, that counted every bit.
        return True

    def __contains__(self, docnum: int) -> bool:
        return bool(self.bytes[docnum >> 3] >> (docnum & 7) & 1)

    def __iter__(self):
        for docnum in range(len(self.bytes) * 8):
            if docnum in self:
                yield docnum

    def __len__(self):
        return sum(bin(byte).count("1") for byte in self.bytes)


def _bitmap(reader, field: str, text: str) -> int:
    """The segment's documents holding this term, as an integer's bits (kept)."""
    segment = reader.segment()
    if segment is None:  # an index with nothing in it yet reads through an empty reader
        return 0
    key = (segment.segment_id(), reader.doc_count_all(), field, text)
    with _lock:
        bits = _bitmaps.get(key)
        if bits is not None:
            _bitmaps.move_to_end(key)
            return bits
    bits = 0
    if (field, text) in reader:
        size = reader.doc_count_all()
        found = bytearray((size + 7) // 8)
        for docnum in reader.postings(field, text).all_ids():
            found[docnum >> 3] |= 1 << (docnum & 7)
        bits = int.from_bytes(found, "little")
    with _lock:
        _bitmaps[key] = bits
        while len(_bitmaps) > MAX_BITMAPS:
            _bitmaps.popitem(last=False)
    return bits


def allowed(searcher, leaf_spaces: list[int], shown: dict[int, tuple[str, ...] | None]) -> Allowed | None:
    """The documents the person may find, as a filter for `searcher.search`: in the leaf reader of
    space `leaf_spaces[n]`, those of the modules `shown[space]` (None: every module). None when
    nothing is to be left out."""
    if all(shown.get(space_id) is None for space_id in leaf_spaces):
        return None
    bits = 0
    leaves = searcher.leaf_searchers()
    for (subsearcher, offset), space_id in zip(leaves, leaf_spaces, strict=True):
        reader = subsearcher.reader()
        modules = shown.get(space_id)
        if modules is None:
            kept = (1 << reader.doc_count_all()) - 1
        else:
            kept = 0
            for module in modules:
                kept |= _bitmap(reader, "module", module)
        bits |= kept << offset
    return Allowed(bits, searcher.doc_count_all())
