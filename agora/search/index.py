"""The Whoosh index: its French analysis, its schema, opening (or rebuilding) it, writing to it.

The index lives in `<instance>/search/`. Writes wait for Whoosh's file lock (several server
workers may write at once: each waits its turn, nothing is lost). A missing or unreadable index
is rebuilt from the database, with a line in the log.
"""
from __future__ import annotations

import logging
import shutil
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
    "a", "à", "au", "aux", "avec", "ce", "ces", "cet", "cette", "d", "dans", "de", "des", "du", "elle", "en", "et",
    "il", "ils", "j", "je", "l", "la", "le", "les", "leur", "leurs", "lui", "m", "ma", "mais", "me", "mes", "n", "ne",
    "nos", "notre", "nous", "on", "ou", "où", "par", "pas", "pour", "qu", "que", "qui", "s", "sa", "se", "ses", "son",
    "sur", "t", "ta", "te", "tes", "ton", "tu", "un", "une", "vos", "votre", "vous", "y", "est", "sont",
}

#: Words split on anything but letters and digits (so "l'éclairage" gives "éclairage").
FRENCH = (RegexTokenizer(r"\w+") | LowercaseFilter() | StopFilter(stoplist=FRENCH_STOP_WORDS, minsize=1)
          | StemFilter(lang="fr") | CharsetFilter(accent_map))

SCHEMA = Schema(
    key=ID(unique=True, stored=True),          #: "forum.post:12"
    kind=ID(stored=True),                      #: "forum.post"
    module=ID(stored=True),                    #: "forum"
    space_id=ID(stored=True),
    object_id=NUMERIC(stored=True, bits=64),
    title=TEXT(analyzer=FRENCH, stored=True, field_boost=2.0),
    body=TEXT(analyzer=FRENCH, stored=True),
    date=DATETIME(stored=True, sortable=True),
)
#: How long a write waits for another process's lock before giving up (and being logged).
WRITE_TIMEOUT = 30.0


def index_dir() -> Path:
    return Path(current_app.instance_path) / "search"


def create() -> whoosh_index.Index:
    folder = index_dir()
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    return whoosh_index.create_in(str(folder), SCHEMA)


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
    w = ix.writer(timeout=WRITE_TIMEOUT, delay=0.05)
    try:
        yield w
    except BaseException:
        w.cancel()
        raise
    else:
        w.commit()
