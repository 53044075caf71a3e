"""The Whoosh indexes: their French analysis, their schema, opening (or rebuilding), writing.

One index per space, in `<instance>/search/space-<id>/`, under a folder stamped with the VERSION
that built them. A person searches their own few spaces, not thirty: a search reads only those
spaces' indexes (combined into one searcher, so that ranking sees one collection), and walks no
entry of anyone else's. Indexes are written by the background process (the "search.index" job) and
by commands; a write waits for Whoosh's file lock of that space, so two writers never lose each
other's entries. Web workers only read, through readers each process keeps. A missing, unreadable or
differently built index is rebuilt from the database, with a line in the log (`agora serve`
checks the stamp once before its workers start).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import warnings
from array import array
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import DATETIME, ID, NUMERIC, TEXT, Schema
from whoosh.lang import stopwords_for_language
from whoosh.reading import MultiReader
from whoosh.searching import Searcher
from whoosh.support.charset import accent_map
from whoosh.util.times import datetime_to_long

from agora.core.time import utcnow

log = logging.getLogger(__name__)

#: Whoosh's French list lacks some of the commonest words ("les", "aux"...): ours adds them.
FRENCH_STOP_WORDS = frozenset(stopwords_for_language("fr")) | {
    "a",
    "à",
    "au",
    "aux",
    "avec",
    "ce",
    "ces",
    "cet",
    "cette",
    "d",
    "dans",
    "de",
    "des",
    "du",
    "elle",
    "en",
    "et",
    "il",
    "ils",
    "j",
    "je",
    "l",
    "la",
    "le",
    "les",
    "leur",
    "leurs",
    "lui",
    "m",
    "ma",
    "mais",
    "me",
    "mes",
    "n",
    "ne",
    "nos",
    "notre",
    "nous",
    "on",
    "ou",
    "où",
    "par",
    "pas",
    "pour",
    "qu",
    "que",
    "qui",
    "s",
    "sa",
    "se",
    "ses",
    "son",
    "sur",
    "t",
    "ta",
    "te",
    "tes",
    "ton",
    "tu",
    "un",
    "une",
    "vos",
    "votre",
    "vous",
    "y",
    "est",
    "sont",
}

#: Accents dropped, and the ligatures people type as two letters ("cœur", "coeur") spelt out.
FOLD = {**accent_map, ord("œ"): "oe", ord("Œ"): "oe", ord("æ"): "ae", ord("Æ"): "ae"}

#: Words split on anything but letters and digits (so "l'éclairage" gives "éclairage"), then
#: lowercased and folded *before* the stop list and the stemmer: « Sécurité », « securite » and
#: « SECURITES » all reach the stemmer as "securite" and get one stem, on the index and the query
#: alike (both use this analyzer). Folding after stemming gave « sécurité » the stem "secur" and
#: "securite" the stem "securit": neither found the other.
FRENCH = (
    RegexTokenizer(r"\w+")
    | LowercaseFilter()
    | CharsetFilter(FOLD)
    | StopFilter(stoplist=frozenset(word.translate(FOLD) for word in FRENCH_STOP_WORDS), minsize=1)
    | StemFilter(lang="fr")
)

#: The same words as typed, folded but not stemmed: a search ranks the entries holding the exact
#: words typed (« réunions ») before those holding only another form of them (« réunion »).
EXACT = (
    RegexTokenizer(r"\w+")
    | LowercaseFilter()
    | CharsetFilter(FOLD)
    | StopFilter(stoplist=frozenset(word.translate(FOLD) for word in FRENCH_STOP_WORDS), minsize=1)
)

#: Stamped beside the indexes: indexes built with another schema, analyzer or layout are rebuilt
#: when opened, so an upgrade never keeps searching stems the queries no longer produce.
#: Raise it whenever SCHEMA, FRENCH or the files' layout changes. 2: accents folded before
#: stemming. 3: segments kept as separate files (WRITER_OPTIONS). 4: one index per space, and the
#: words also kept unstemmed (title_exact, body_exact).
VERSION = 4

SCHEMA = Schema(
    key=ID(unique=True, stored=True),  #: "forum.post:12"
    kind=ID(stored=True),  #: "forum.post"
    module=ID(stored=True),  #: "forum"
    space_id=ID(stored=True),
    object_id=NUMERIC(stored=True, bits=64),
    title=TEXT(analyzer=FRENCH, stored=True, field_boost=2.0),
    body=TEXT(analyzer=FRENCH, stored=True),
    title_exact=TEXT(analyzer=EXACT),
    body_exact=TEXT(analyzer=EXACT),
    date=DATETIME(stored=True, sortable=True),
)


def document(fields: dict) -> dict:
    """What is written for an entry's fields (agora.core.registry.Entry.fields()): its words twice,
    stemmed and as typed."""
    return {**fields, "title_exact": fields["title"], "body_exact": fields["body"]}


#: How long a write waits for another process's lock before giving up (and being logged).
WRITE_TIMEOUT = 30.0
#: Every writer's options. Whoosh's default packs a segment into one compound file, and each
#: searcher opened on it copied the segment's postings and term index into memory (28 MB at
#: scale 1, ten times that at scale 10, per concurrent search): separate files are read in place.
WRITER_OPTIONS = {"compound": False}


def index_dir() -> Path:
    """The folder holding every space's index and the stamp."""
    return Path(current_app.instance_path) / "search"


def space_dir(space_id: int) -> Path:
    return index_dir() / f"space-{int(space_id)}"


#: The file beside the indexes that says which VERSION built them.
STAMP = "agora-version"


def create() -> None:
    """No index at all in place of any other, stamped with this VERSION (spaces' indexes are made
    as they are written)."""
    folder = index_dir()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    (folder / STAMP).write_text(f"{VERSION}\n")


def create_space(space_id: int) -> whoosh_index.Index:
    """An empty index for one space in place of any it had."""
    folder = space_dir(space_id)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return whoosh_index.create_in(str(folder), SCHEMA)


def built_version(folder: Path | None = None) -> int | None:
    """The VERSION stamped on the indexes in `folder` (None: no stamp, indexes from before stamps)."""
    try:
        return int((folder or index_dir()).joinpath(STAMP).read_text().strip())
    except (OSError, ValueError):
        return None


def ensure_current() -> None:
    """Rebuild every index now if the folder is missing or was built by another VERSION (`agora
    serve` calls this before its workers start, so that no request pays for it)."""
    folder = index_dir()
    if not folder.exists():
        reason = "missing"
    elif (found := built_version(folder)) != VERSION:
        reason = f"built by another version ({found or 'unstamped'}, this one is {VERSION})"
    else:
        return
    log.warning("search index %s at %s: rebuilding it from the database", reason, folder)
    from agora.search.indexing import reindex

    reindex()


#: Pauses before trying again to open an index another process was committing to (seconds).
REOPEN_PAUSES = (0.02, 0.05, 0.1, 0.2)


def open_index(space_id: int, *, create_missing: bool = True) -> whoosh_index.Index | None:
    """Open one space's index; None for a space with nothing indexed yet (unless `create_missing`).

    A reader that lists the index while another process commits may find the table of contents
    it chose already replaced: that is tried again, and only an index still unreadable after the
    last pause is rebuilt from the database (a rebuild while others are writing would cost every
    writer its wait).
    """
    ensure_current()
    folder = space_dir(space_id)
    for pause in (*REOPEN_PAUSES, None):
        # Whoosh leaves a damaged file open when it fails to read it; it closes as the error goes.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                if not whoosh_index.exists_in(str(folder)):
                    return create_space(space_id) if create_missing else None
                return whoosh_index.open_dir(str(folder))
            except Exception as exc:  # a damaged index raises many kinds of errors  # noqa: BLE001
                reason = f"unreadable ({exc.__class__.__name__}: {exc})"
        if pause is not None:
            time.sleep(pause)
    log.warning("search index %s at %s: rebuilding it from the database", reason, folder)
    from agora.search.indexing import reindex

    create_space(space_id)
    reindex(space_id)
    return whoosh_index.open_dir(str(folder))


@contextmanager
def writer(space_id: int):
    """A writer of one space's index that waits for other processes' writes, committed on success."""
    ix = open_index(space_id)
    w = ix.writer(timeout=WRITE_TIMEOUT, delay=0.05, **WRITER_OPTIONS)
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    else:
        w.commit()


def today() -> int:
    """Now, in the unit of the dates Whoosh keeps (microseconds since year 1)."""
    return datetime_to_long(utcnow().replace(tzinfo=None))


def segment_key(reader) -> tuple | None:
    """What identifies a segment's entries (None for an index with nothing in it yet, read through
    an empty reader): segments never change, only their deletions grow."""
    segment = reader.segment()
    return (segment.segment_id(), reader.doc_count_all()) if segment is not None else None


class PerSegment:
    """What `read` reads once from a segment, kept while the segment lives (segments never change,
    and deletions touch nothing kept here), for the `limit` segments used last."""

    def __init__(self, read, limit: int = 256):
        self.read, self.limit = read, limit
        self.kept: OrderedDict[tuple, object] = OrderedDict()
        self.lock = threading.Lock()
        self.__doc__ = read.__doc__

    def __call__(self, reader):
        key = segment_key(reader)
        with self.lock:
            found = self.kept.get(key)
            if found is not None:
                self.kept.move_to_end(key)
                return found
        found = self.read(reader)
        if key is not None:
            with self.lock:
                self.kept[key] = found
                while len(self.kept) > self.limit:
                    self.kept.popitem(last=False)
        return found


#: What an entry written without a date holds in the date column: the largest unsigned value.
NO_DATE = 2**63


@PerSegment
def segment_dates(reader) -> array:
    """Each entry's date as Whoosh stores it (0 if none), read from the segment's column at once
    instead of one seek per entry: 8 bytes an entry, about 4 MB for thirty spaces at scale 10."""
    size = reader.doc_count_all()
    column = reader.column_reader("date", translate=False) if reader.has_column("date") else None
    if column is None:
        return array("q", bytes(8 * size))
    stored = _column_values(column)
    if stored is None:  # another kind of column: read an entry at a time
        return array("q", (value if value < NO_DATE else 0 for value in column))
    dates = array("q", stored.tobytes())  # the same bits, signed: an entry with no date holds -1
    dates.frombytes(bytes(8 * (size - len(dates))))  # entries past the column's end hold no date either
    start = 0
    while True:
        try:
            start = dates.index(-1, start)
        except ValueError:
            return dates
        dates[start] = 0


def _column_values(column) -> array | None:
    """A date column's values in one read of its file (Whoosh reads them one seek at a time: 14 ms
    for a space of 18,000 entries), or None for a column not laid out as 8-byte numbers."""
    try:
        if column._typecode != "Q":
            return None
        return column._dbfile.get_array(column._basepos, "Q", column._count)
    except AttributeError:
        return None


class _Kept:
    """The readers this process keeps, by space, and which indexes they were opened on."""

    value: OrderedDict | None = None
    identity: tuple | None = None


#: One set per process, not per thread: searches take turns (whoosh_backend.SEARCHING), so a
#: space's reader, whose files are read with seeks, is never used by two threads at once.
_readers = _Kept()
#: Spaces whose readers the process keeps open (least recently used closed first): the files of a
#: few segments each, so the process's open files stay bounded whatever the number of spaces.
KEPT_READERS = 24


def searcher(space_ids) -> tuple[Searcher | None, list[int]]:
    """One searcher over these spaces' indexes, and the space of each of its leaf readers in order
    (None, [] when none of them has anything indexed).

    Call it only while holding whoosh_backend.SEARCHING. Each space's reader is kept by the
    process until another process commits to that index: a search pays only for the check that it
    has not changed (its generation, from the folder listing). A forked process opens its own.
    """
    leaves, spaces = [], []
    identity = _identity()  # once per search: it reads the instance's path and the stamp's inode
    for space_id in sorted(space_ids):
        reader = _reader(space_id, identity)
        if reader is None:
            continue
        for leaf, _offset in reader.leaf_readers():
            leaves.append(leaf)
            spaces.append(space_id)
    # The readers of spaces searched least lately are closed, never one this search reads (a
    # person may belong to more spaces than are kept).
    kept = _readers.value
    while kept and len(kept) > max(KEPT_READERS, len(space_ids)):
        _close(kept.popitem(last=False)[1][1])
    if not leaves:
        return None, []
    combined = leaves[0] if len(leaves) == 1 else MultiReader(leaves)
    # Closing it would close the kept readers: the combination is only dropped.
    return Searcher(combined, closereader=False), spaces


def _reader(space_id: int, identity: tuple | None):
    kept = _readers.value
    if kept is None or _readers.identity != identity:
        forget_searcher()
        kept = _readers.value = OrderedDict()
        _readers.identity = identity
    cached = kept.get(space_id)
    if cached is not None:
        try:
            # Not Whoosh's refresh(): the segment readers it reuses keep their old deletions.
            if cached[0].latest_generation() == cached[1].generation():
                kept.move_to_end(space_id)
                return cached[1]
        except Exception:  # the files it read were replaced or damaged: open the index anew  # noqa: BLE001
            pass
        _close(kept.pop(space_id)[1])
    ix = open_index(space_id, create_missing=False)
    if ix is None:
        return None
    reader = ix.reader()
    kept[space_id] = (ix, reader)
    return reader


def _close(reader) -> None:
    try:
        reader.close()
    except Exception:  # noqa: BLE001
        pass


def _identity() -> tuple | None:
    """Which indexes this process sees in the folder: rebuilt ones (a new stamp file) are others."""
    folder = index_dir()
    try:
        stamp = (folder / STAMP).stat()
    except OSError:
        return None
    return os.getpid(), str(folder), stamp.st_ino, stamp.st_mtime_ns


def forget_searcher() -> None:
    """Close the readers this process keeps (the indexes were rebuilt in place, or a test starts anew)."""
    kept = _readers.value
    _readers.value = None
    for _ix, reader in (kept or {}).values():
        _close(reader)
