"""Which documents of the index a person may find: their spaces, the modules those spaces show.

A search is filtered by a set of document numbers rather than joined to a query of space terms:
the words' own matching (and Whoosh's block-quality skipping) stays as fast as unrestricted.
The set is built from bitmaps, one per (segment, term), read from the postings once and kept
while the segment lives (segments never change; deletions are left out by the matcher), so a
search combines a few bitmaps with integer operations instead of reading every allowed space's
postings. A bitmap is a bit per document of its segment: 30 spaces at scale 10 keep about 2 MB.
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


def allowed(searcher, groups: list[tuple[tuple[str, ...], list[int]]]) -> Allowed:
    """The documents in these (modules, space ids) groups, as a filter for `searcher.search`."""
    bits = 0
    for subsearcher, offset in searcher.leaf_searchers():
        reader = subsearcher.reader()
        for modules, space_ids in groups:
            spaces = 0
            for space_id in space_ids:
                spaces |= _bitmap(reader, "space_id", str(space_id))
            shown = 0
            for module in modules:
                shown |= _bitmap(reader, "module", module)
            bits |= (spaces & shown) << offset
    return Allowed(bits, searcher.doc_count_all())
