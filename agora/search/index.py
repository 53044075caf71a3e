"""The Whoosh index: its French analysis, its schema, opening (or rebuilding) it, writing to it.

The index lives in `<instance>/search/`, stamped with the VERSION that built it. It is written by
the background process (the "search.index" job) and by commands; a write waits for Whoosh's file
lock, so two writers never lose each other's entries. Web workers only read it, through one
searcher kept per thread. A missing, unreadable or differently built index is rebuilt from the
database, with a line in the log (`agora serve` checks this once before its workers start).
"""

from __future__ import annotations

import logging
import os
import shutil
import threading
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from whoosh import index as whoosh_index
from whoosh.analysis import CharsetFilter, LowercaseFilter, RegexTokenizer, StemFilter, StopFilter
from whoosh.fields import DATETIME, ID, NUMERIC, TEXT, Schema
from whoosh.lang import stopwords_for_language
from whoosh.support.charset import accent_map

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

#: Stamped beside the index: an index built with another schema or analyzer is rebuilt when
#: opened, so an upgrade never keeps searching stems the queries no longer produce.
#: Raise it whenever SCHEMA, FRENCH or the files' layout changes. 2: accents folded before
#: stemming. 3: segments kept as separate files (WRITER_OPTIONS).
VERSION = 3

SCHEMA = Schema(
    key=ID(unique=True, stored=True),  #: "forum.post:12"
    kind=ID(stored=True),  #: "forum.post"
    module=ID(stored=True),  #: "forum"
    space_id=ID(stored=True),
    object_id=NUMERIC(stored=True, bits=64),
    title=TEXT(analyzer=FRENCH, stored=True, field_boost=2.0),
    body=TEXT(analyzer=FRENCH, stored=True),
    date=DATETIME(stored=True, sortable=True),
)
#: How long a write waits for another process's lock before giving up (and being logged).
WRITE_TIMEOUT = 30.0
#: Every writer's options. Whoosh's default packs a segment into one compound file, and each
#: searcher opened on it copied the segment's postings and term index into memory (28 MB at
#: scale 1, ten times that at scale 10, per concurrent search): separate files are read in place.
WRITER_OPTIONS = {"compound": False}


def index_dir() -> Path:
    return Path(current_app.instance_path) / "search"


#: The file beside the index that says which VERSION built it.
STAMP = "agora-version"


def create() -> whoosh_index.Index:
    """An empty index in place of any other, stamped with this VERSION."""
    folder = index_dir()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    ix = whoosh_index.create_in(str(folder), SCHEMA)
    (folder / STAMP).write_text(f"{VERSION}\n")
    return ix


def built_version(folder: Path | None = None) -> int | None:
    """The VERSION stamped on the index in `folder` (None: no stamp, an index from before stamps)."""
    try:
        return int((folder or index_dir()).joinpath(STAMP).read_text().strip())
    except (OSError, ValueError):
        return None


def ensure_current() -> None:
    """Open the index once, rebuilding it now if it is missing, unreadable or from another VERSION
    (`agora serve` calls this before its workers start, so that no request pays for it)."""
    open_index()


#: Pauses before trying again to open an index another process was committing to (seconds).
REOPEN_PAUSES = (0.02, 0.05, 0.1, 0.2)


def open_index(rebuild_if_missing: bool = True) -> whoosh_index.Index:
    """Open the index; rebuild it from the database when it is missing or cannot be read.

    A reader that lists the index while another process commits may find the table of contents
    it chose already replaced: that is tried again, and only an index still unreadable after the
    last pause is rebuilt (a rebuild while others are writing would cost every writer its wait).
    """
    folder = index_dir()
    for pause in (*REOPEN_PAUSES, None):
        # Whoosh leaves a damaged file open when it fails to read it; it closes as the error goes.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ResourceWarning)
            try:
                if not whoosh_index.exists_in(str(folder)):
                    reason = "missing"
                    break
                if (found := built_version(folder)) != VERSION:
                    reason = f"built by another version ({found or 'unstamped'}, this one is {VERSION})"
                    break
                return whoosh_index.open_dir(str(folder))
            except Exception as exc:  # a damaged index raises many kinds of errors  # noqa: BLE001
                reason = f"unreadable ({exc.__class__.__name__}: {exc})"
        if pause is not None:
            time.sleep(pause)
    if not rebuild_if_missing:
        return create()
    log.warning("search index %s at %s: rebuilding it from the database", reason, folder)
    from agora.search.indexing import reindex

    reindex()
    return whoosh_index.open_dir(str(folder))


@contextmanager
def writer():
    """A writer that waits for other processes' writes, committed on success."""
    ix = open_index()
    w = ix.writer(timeout=WRITE_TIMEOUT, delay=0.05, **WRITER_OPTIONS)
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    else:
        w.commit()


_searchers = threading.local()


def searcher():
    """This thread's searcher, kept open until another process commits to the index.

    Reused, a search pays only for the check that the index has not changed (its generation,
    from the folder listing). Each
    thread keeps its own (a searcher's files are read with seeks: not to be shared between
    threads), and a forked process opens its own.
    """
    key = _identity()
    cached = getattr(_searchers, "value", None)
    if cached is not None and key is not None and cached[0] == key:
        try:
            # Not Whoosh's refresh(): the segment readers it reuses keep their old deletions.
            if cached[1]._ix.latest_generation() == cached[1].reader().generation():
                return cached[1]
        except Exception:  # the files it read were replaced or damaged: open the index anew  # noqa: BLE001
            pass
    forget_searcher()
    opened = open_index().searcher()
    _searchers.value = (_identity(), opened)
    return opened


def _identity() -> tuple | None:
    """Which index this process sees in the folder: a rebuilt one (a new stamp file) is another."""
    folder = index_dir()
    try:
        stamp = (folder / STAMP).stat()
    except OSError:
        return None
    return os.getpid(), str(folder), stamp.st_ino, stamp.st_mtime_ns


def forget_searcher() -> None:
    """Close this thread's searcher (the index was rebuilt in place, or a test starts anew)."""
    cached = getattr(_searchers, "value", None)
    _searchers.value = None
    if cached is not None:
        try:
            cached[1].close()
        except Exception:  # noqa: BLE001
            pass
