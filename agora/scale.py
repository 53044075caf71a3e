"""Many realistic spaces at once, for benchmarks: `agora demo --spaces N --scale K`.

The same N and K always give the same data (a seeded generator). At scale 1 each space gets,
on average, what thirty spaces of a real neighbourhood hold after a few years: 50 news items,
40 topics with 1,000 replies, 200 events (a fifth of them repeating), 334 documents, 200 tasks
and 5 polls; people (ten per space) belong to 10 to 60 spaces' worth of memberships each space.
Rows are written in bulk, not through the services: nobody is notified, nothing is audited.
"""
from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update

from agora.core.time import utcnow
from agora.extensions import db

SUBJECTS = ["la réunion du conseil citoyen", "le jardin partagé", "la fête de quartier", "l'éclairage du passage",
            "les encombrants", "la propreté du square", "le city-stade", "le bailleur", "la régie de quartier",
            "le compte rendu", "la marche exploratoire", "les ateliers numériques", "la permanence CAF",
            "le budget participatif", "les jeunes du quartier", "la salle polyvalente", "le marché du samedi"]
VERBS = ["est prévu", "a été reporté", "demande des bénévoles", "avance bien", "pose problème", "est annulé",
         "sera discuté mardi", "a besoin de matériel", "est affiché à l'accueil", "intéresse les habitants"]
DETAILS = ["rendez-vous à 18 h au centre social", "merci de prévenir le gardien du bâtiment C",
           "la ville a confirmé", "il faut un point d'eau", "prévoir des chaises et des tables",
           "on cherche des idées pour l'an prochain", "voir le plan joint", "la régie peut aider"]
FIRST_NAMES = ["Amina", "Bernard", "Chantal", "Djibril", "Élodie", "Fatou", "Gérard", "Hélène", "Ibrahim", "Jeanne",
               "Karim", "Léa", "Mamadou", "Nadia", "Océane", "Pascal", "Rachid", "Sylvie", "Thierry", "Yasmina"]
LAST_NAMES = ["Martin", "Benali", "Diallo", "Moreau", "Nguyen", "Petit", "Traoré", "Lefebvre", "Haddad", "Garcia",
              "Roux", "Mendy", "Fontaine", "Bouzid", "Leroy"]
PLACES = ["Centre social des Tilleuls", "Salle polyvalente", "Maison de quartier", "Square Lamartine",
          "Mairie annexe", "Local de la régie", "EPN des Tilleuls"]
#: Per space at scale 1 (thirty spaces: 1,500 news, 1,200 topics, 30,000 replies, 6,000 events...).
PER_SPACE = {"news": 50, "topics": 40, "replies": 1000, "events": 200, "documents": 334, "tasks": 200, "polls": 5}
PEOPLE_PER_SPACE = 10
#: Everyone generated can log in with this (benchmarks log many of them in).
PASSWORD = "une phrase pour mesurer"


def sentence(rng: random.Random) -> str:
    return f"{rng.choice(SUBJECTS).capitalize()} {rng.choice(VERBS)} : {rng.choice(DETAILS)}."


@dataclass
class Seeded:
    spaces: list[str]
    people: int
    counts: dict[str, int]


def username(n: int) -> str:
    return f"habitant{n:04d}"


def seed(spaces: int, scale: float, *, prefix: str = "quartier",
         progress: Callable[[str], None] = lambda _m: None) -> Seeded:
    """Create `spaces` spaces named quartier-01... with `scale` times the content of PER_SPACE; the caller commits.

    People are created anew (habitant0001...) after any made before, so two calls may share none.
    """
    from agora.auth.models import User
    from agora.auth.services import hash_password
    from agora.spaces.models import Membership, Space
    from agora.spaces.services import create_space

    rng = random.Random(f"agora-{spaces}-{scale}")
    now = utcnow().replace(microsecond=0)
    people = PEOPLE_PER_SPACE * spaces
    secret = hash_password(PASSWORD)  # one hash for all: argon2 on 300 accounts would take longer than the rest
    first_user = (db.session.scalar(select(User.id).order_by(User.id.desc()).limit(1)) or 0) + 1
    db.session.execute(insert(User), [
        {"username": username(n), "username_key": username(n), "password_hash": secret,
         "display_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
         "email": f"{username(n)}@example.org", "created_at": now, "privacy": {}}
        for n in range(first_user, first_user + people)])
    user_ids = list(db.session.scalars(select(User.id).where(User.id >= first_user, User.username.like("habitant%"))
                                       .order_by(User.id)))
    counts = {key: 0 for key in PER_SPACE}
    slugs = []
    for number in range(1, spaces + 1):
        slug = f"{prefix}-{number:02d}"
        space = create_space(slug, f"Quartier {number:02d} — {rng.choice(SUBJECTS).capitalize()}", actor=None,
                             description=sentence(rng), quota_mb=10_240)
        db.session.flush()
        # The first space is the benchmarks' target: sixty members, enough for fifty distinct sessions.
        size = 60 if number == 1 else rng.randint(10, 60)
        members = [user_ids[0]] + rng.sample(user_ids[1:], min(size, len(user_ids)) - 1) if number == 1 else \
            rng.sample(user_ids, min(size, len(user_ids)))
        db.session.execute(insert(Membership), [
            {"space_id": space.id, "user_id": uid, "role": "admin" if i == 0 else "reader" if i % 10 == 9 else "member",
             "created_at": now} for i, uid in enumerate(members)])
        for key, made in _fill(space, members, scale, rng, now).items():
            counts[key] += made
        space.last_activity_at = now
        slugs.append(slug)
        progress(f"{slug}: {size} members")
    db.session.execute(update(Space).where(Space.slug.in_(slugs)).values(last_activity_at=now))
    return Seeded(spaces=slugs, people=people, counts=counts)


def _bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(model), rows[start:start + 2000])


def _fill(space, members: list[int], scale: float, rng: random.Random, now: datetime) -> dict[str, int]:
    """Write one space's content; return how many of each were made."""
    from agora.core.richtext import render_markdown

    want = {key: max(1, round(value * scale)) for key, value in PER_SPACE.items()}
    writers = [uid for i, uid in enumerate(members) if i % 10 != 9] or members
    html_cache: dict[str, str] = {}

    def html(text: str) -> str:
        if text not in html_cache:
            html_cache[text] = str(render_markdown(text))
        return html_cache[text]

    _news(space, want["news"], writers, rng, now)
    _forum(space, want["topics"], want["replies"], writers, rng, now, html)
    _events(space, want["events"], writers, rng, now, html)
    _documents(space, want["documents"], writers, rng, now)
    _tasks(space, want["tasks"], members, writers, rng, now, html)
    _polls(space, want["polls"], writers, rng, now, html)
    return want


def _news(space, count, writers, rng, now):
    from agora.spaces.models import NewsItem

    _bulk(NewsItem, [{"space_id": space.id, "author_id": writers[0], "title": sentence(rng)[:200],
                      "body": " ".join(sentence(rng) for _ in range(3)), "is_pinned": n == 0,
                      "created_at": now - timedelta(days=count - n)} for n in range(count)])


def _forum(space, topics, replies, writers, rng, now, html):
    from agora.forum.models import ForumCategory, Post, Topic

    categories = []
    for position, name in enumerate(("Vie du quartier", "Projets", "Questions pratiques")):
        category = ForumCategory(space_id=space.id, name=name, position=position)
        db.session.add(category)
        categories.append(category)
    db.session.flush()
    start = now - timedelta(days=365)
    _bulk(Topic, [{"space_id": space.id, "category_id": rng.choice(categories).id, "author_id": rng.choice(writers),
                   "title": sentence(rng)[:150], "created_at": start + timedelta(days=n * 365 / topics),
                   "last_post_at": start, "reply_count": 0} for n in range(topics)])
    topic_rows = db.session.execute(select(Topic.id, Topic.created_at).where(Topic.space_id == space.id)
                                    .order_by(Topic.id)).all()
    # Replies spread over the topics, every topic with at least a first post; the first topic has many.
    per_topic = [1] * len(topic_rows)
    for _ in range(replies):
        per_topic[0 if rng.random() < 0.03 else rng.randrange(len(topic_rows))] += 1
    posts = []
    for (topic_id, created), count in zip(topic_rows, per_topic, strict=True):
        for n in range(count):
            body = " ".join(sentence(rng) for _ in range(rng.randint(1, 4)))
            posts.append({"space_id": space.id, "topic_id": topic_id, "author_id": rng.choice(writers), "body": body,
                          "body_html": html(body), "is_first": n == 0,
                          "created_at": min(now, created + timedelta(hours=3 * n))})
    _bulk(Post, posts)
    db.session.flush()
    for topic_id, count in zip((t for t, _c in topic_rows), per_topic, strict=True):
        last = db.session.execute(select(Post.id, Post.created_at, Post.author_id).where(Post.topic_id == topic_id)
                                  .order_by(Post.id.desc()).limit(1)).one()
        db.session.execute(update(Topic).where(Topic.id == topic_id).values(
            reply_count=count - 1, last_post_id=last.id, last_post_at=last.created_at, last_poster_id=last.author_id))


def _events(space, count, writers, rng, now, html):
    from agora.agenda.models import Event

    rows = []
    for n in range(count):
        # The first two start next week whatever the size: even a small space has a series and an event to show.
        offset = n + 7 if n < 2 else rng.randint(-180, 180)
        day = (now + timedelta(days=offset)).replace(hour=rng.choice((8, 9, 13, 16, 17)), minute=0, second=0)
        repeating = n % 5 == 0
        weeks = rng.randint(4, 30)
        description = sentence(rng)
        rows.append({
            "space_id": space.id, "uid": f"bench-{space.id}-{n}@agora", "author_id": rng.choice(writers),
            "title": sentence(rng)[:80], "description": description, "description_html": html(description),
            "location": rng.choice(PLACES), "url": "", "tz": "Europe/Paris", "all_day": False,
            "starts_at": day, "ends_at": day + timedelta(hours=2),
            "rrule": f"FREQ=WEEKLY;COUNT={weeks}" if repeating else None, "exdates": [],
            "series_until": day + timedelta(weeks=weeks - 1) if repeating else None,
            "sequence": 0, "created_at": now, "updated_at": now})
    _bulk(Event, rows)


def _documents(space, count, writers, rng, now):
    from agora.documents import storage
    from agora.documents.models import Document, DocumentVersion, Folder
    from agora.spaces.models import Space

    folders = []
    for name in ("Comptes rendus", "Affiches", "Budget", "Photos de la fête"):
        folder = Folder(space_id=space.id, name=name, created_by_id=writers[0], created_at=now, updated_at=now)
        db.session.add(folder)
        folders.append(folder)
    db.session.flush()
    names, documents = set(), []
    for n in range(count):
        name = f"{rng.choice(SUBJECTS).capitalize()} {n + 1}.txt"
        names.add(name)
        documents.append({"space_id": space.id, "folder_id": rng.choice(folders).id if n % 4 else None, "name": name,
                          "size": 0, "content_type": "text/plain", "created_by_id": rng.choice(writers),
                          "created_at": now, "updated_at": now})
    _bulk(Document, documents)
    rows = db.session.execute(select(Document.id, Document.created_by_id).where(Document.space_id == space.id)
                              .order_by(Document.id)).all()
    versions, used = [], 0
    for document_id, author in rows:
        data = (" ".join(sentence(rng) for _ in range(3)) + "\n").encode()
        storage_name = f"{rng.getrandbits(128):032x}"
        target = storage.path_for(space.id, storage_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        used += len(data)
        versions.append({"space_id": space.id, "document_id": document_id, "number": 1, "storage_name": storage_name,
                         "size": len(data), "sha256": hashlib.sha256(data).hexdigest(), "content_type": "text/plain",
                         "note": "", "created_by_id": author, "created_at": now})
    _bulk(DocumentVersion, versions)
    db.session.flush()
    for version_id, document_id, size in db.session.execute(
            select(DocumentVersion.id, DocumentVersion.document_id, DocumentVersion.size)
            .where(DocumentVersion.space_id == space.id)):
        db.session.execute(update(Document).where(Document.id == document_id)
                           .values(current_version_id=version_id, size=size))
    db.session.execute(update(Space).where(Space.id == space.id).values(storage_used=used))


def _tasks(space, count, members, writers, rng, now, html):
    from agora.tasks import services as tasks
    from agora.tasks.models import Task, TaskAssignee, TaskList

    statuses = tasks.statuses(space)
    lists = []
    for position, name in enumerate(("Fête de quartier", "Jardin partagé", "Suivi des demandes")):
        task_list = TaskList(space_id=space.id, name=name, description="", position=position)
        db.session.add(task_list)
        lists.append(task_list)
    db.session.flush()
    rows = []
    for n in range(count):
        description = sentence(rng)
        due = (now + timedelta(days=rng.randint(-60, 120))).date() if rng.random() < 0.7 else None
        status = statuses[n] if n < len(statuses) else rng.choice(statuses)  # no empty column, even when small
        rows.append({"space_id": space.id, "list_id": rng.choice(lists).id, "status_id": status.id,
                     "title": sentence(rng)[:120], "description": description, "description_html": html(description),
                     "due_on": due, "priority": rng.choice(("low", "normal", "normal", "high")),
                     "progress": rng.choice((0, 0, 25, 50, 100)), "created_by_id": rng.choice(writers),
                     "created_at": now, "updated_at": now})
    _bulk(Task, rows)
    task_ids = db.session.scalars(select(Task.id).where(Task.space_id == space.id)).all()
    _bulk(TaskAssignee, [{"space_id": space.id, "task_id": task_id, "user_id": rng.choice(members)}
                         for task_id in task_ids if rng.random() < 0.8])


def _polls(space, count, writers, rng, now, html):
    from agora.polls.models import Poll, PollOption

    for n in range(count):
        description = sentence(rng)
        poll = Poll(space_id=space.id, kind="single", question=f"{rng.choice(SUBJECTS).capitalize()} : quel jour ?",
                    description=description, description_html=html(description), slot_minutes=60,
                    opens_at=now - timedelta(days=10 * n + 1), closes_at=now + timedelta(days=14 - 10 * n),
                    readers_vote=True, is_anonymous=n % 2 == 0, results_live=True, allow_change=True,
                    created_by_id=rng.choice(writers), created_at=now)
        db.session.add(poll)
        db.session.flush()
        db.session.add_all(PollOption(space_id=space.id, poll_id=poll.id, position=p, label=label,
                                      yes_count=rng.randint(0, 12))
                           for p, label in enumerate(("Mardi soir", "Mercredi après-midi", "Samedi matin")))
