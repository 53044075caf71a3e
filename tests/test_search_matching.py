"""Search's bitmaps (agora.search.matching) against Whoosh's own matching, on an index of their own."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest
from whoosh import index as whoosh_index
from whoosh.searching import Searcher

from agora.search import index, matching
from agora.search.whoosh_backend import parser

TEXTS = [
    ("Jardin partagé du square", "Les bénévoles arrosent le jardin samedi matin."),
    ("Réunion du conseil citoyen", "Compte rendu de la réunion : le jardin et la fête de quartier."),
    ("Fête de quartier", "Buvette, musique et brocante ; les bénévoles se retrouvent au centre social."),
    ("Budget participatif", "Les projets du budget participatif sont votés au centre social."),
    ("Permanence du bailleur", "Le gardien du bâtiment B tient la permanence du bailleur."),
    ("Encombrants rue des Lilas", "Le passage des encombrants est prévu jeudi ; prévenir le gardien."),
]


def entry(n: int, title: str, body: str, date: datetime | None) -> dict:
    return index.document(
        {
            "key": f"forum.topic:{n}",
            "kind": "forum.topic",
            "module": "forum" if n % 2 else "agenda",
            "space_id": "1",
            "object_id": n,
            "title": title,
            "body": body,
            "date": date,
        }
    )


def build(folder, count: int, *, seed: int = 7):
    """An index of `count` entries (the texts above, over and over) in one segment, dated at random."""
    rng = random.Random(seed)
    ix = whoosh_index.create_in(str(folder), index.SCHEMA)
    w = ix.writer()
    for n in range(count):
        title, body = TEXTS[n % len(TEXTS)]
        date = None if n % 17 == 0 else datetime(2026, 1, 1) + timedelta(days=rng.randrange(0, 730))
        w.add_document(**entry(n, title, body, date))
    w.commit(merge=False)
    return ix


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    return build(tmp_path_factory.mktemp("small"), 300)


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    return build(tmp_path_factory.mktemp("large"), 2000)


def whoosh_ids(ix, query) -> set[int]:
    with ix.searcher() as searcher:
        return {hit.docnum for hit in searcher.search(query, limit=None)}


def bits_ids(ix, query) -> set[int]:
    reader = ix.reader()
    try:
        leaf = Searcher(reader, closereader=False)
        return set(matching.ones(matching.matches(leaf, query, leaf.boolean_context())))
    finally:
        reader.close()


@pytest.mark.parametrize(
    "typed",
    [
        "jardin",
        "bénévoles centre",
        "social merci",
        '"centre social"',
        '"social centre"',
        "bud*",
        "prévenir OR musique",
        "gardien NOT bailleur",
        "réunions",
    ],
)
def test_bitmaps_match_what_whoosh_matches(small, typed):
    ix = small
    for fields in (("title",), ("title_exact", "body_exact"), ("title", "body")):
        query = parser(fields).parse(typed)
        assert bits_ids(ix, query) == whoosh_ids(ix, query), (typed, fields)


def test_entries_deleted_after_their_words_were_kept_are_not_found(tmp_path):
    ix = build(tmp_path, 60)
    query = parser(("title", "body")).parse("jardin")
    before = bits_ids(ix, query)  # the bitmap of "jardin" is now kept
    w = ix.writer()
    w.delete_by_term("key", "forum.topic:0")
    w.delete_by_term("key", "forum.topic:1")
    w.commit(merge=False)
    with ix.searcher() as searcher:
        assert len(searcher.reader().leaf_readers()) == 1  # the same segment, with deletions
    after = bits_ids(ix, query)
    assert after == whoosh_ids(ix, query)
    assert after == before - {0, 1}


@pytest.mark.parametrize("share", [0.002, 0.02, 0.3, 0.9, 1.0])
@pytest.mark.parametrize("how", ["nearest", "_enumerated", "_walked"])
def test_the_nearest_to_today_are_picked_from_few_or_many(large, share, how):
    ix = large
    rng = random.Random(share)
    reader = ix.reader()
    try:
        dates = index.segment_dates(reader)
        chosen = [docnum for docnum in range(len(dates)) if rng.random() < share]
        bits = sum(1 << docnum for docnum in chosen)
        # A day among the entries' dates, one before them all, one after them all.
        for now in (index.today() - 200 * 86_400_000_000, 1, index.today() + 3000 * 86_400_000_000):
            for count in (1, 21, 200):
                picked = getattr(matching, how)(reader, bits, count, now)
                # Of entries as far from today, the lowest numbers: the order pages go through.
                assert picked == sorted((abs(dates[docnum] - now), docnum) for docnum in chosen)[:count]
    finally:
        reader.close()


def test_dates_read_at_once_are_those_whoosh_reads_one_by_one(large):
    reader = large.reader()
    try:
        dates = index.segment_dates.read(reader)
        column = reader.column_reader("date", translate=False)
        assert list(dates) == [value if value < index.NO_DATE else 0 for value in column]
        assert len(dates) == reader.doc_count_all() == 2000
        assert dates[0] == dates[17] == 0 and all(dates[n] > 0 for n in (1, 16, 18))  # 0: written without a date
    finally:
        reader.close()


def test_kept_bitmaps_stay_within_their_bound(large, monkeypatch):
    monkeypatch.setattr(matching, "MAX_BITMAP_BYTES", 1024)
    matching.forget()
    ix = large
    reader = ix.reader()
    try:
        for word in ("jardin", "benevol", "centr", "social", "gardien", "bailleur", "quarti", "fet"):
            matching.term_bits(reader, "body", word)
        assert matching._kept_bytes <= 1024
        assert matching.term_bits(reader, "body", "gardien") == matching._from_ids(
            reader.postings("body", "gardien").all_ids(), reader.doc_count_all()
        )
    finally:
        reader.close()
        matching.forget()
