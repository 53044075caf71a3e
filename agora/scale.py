"""Many realistic spaces at once, for benchmarks: `agora demo --spaces N --scale K`.

The same N and K always give the same data (a seeded generator). At scale 1 each space gets,
on average, what thirty spaces of a real neighbourhood hold after a few years: 50 news items,
40 topics with 1,000 replies, 200 events (a fifth of them repeating), 334 documents, 200 tasks
and 5 polls; people (ten per space) belong to 10 to 60 spaces' worth of memberships each space.
Rows are written in bulk, not through the services: nobody is notified, nothing is audited.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import insert, select, update

from agora.core.registry import ScaleContext
from agora.core.time import utcnow
from agora.extensions import db

SUBJECTS = [
    "la réunion du conseil citoyen",
    "le jardin partagé",
    "la fête de quartier",
    "l'éclairage du passage",
    "les encombrants",
    "la propreté du square",
    "le city-stade",
    "le bailleur",
    "la régie de quartier",
    "le compte rendu",
    "la marche exploratoire",
    "les ateliers numériques",
    "la permanence CAF",
    "le budget participatif",
    "les jeunes du quartier",
    "la salle polyvalente",
    "le marché du samedi",
]
VERBS = [
    "est prévu",
    "a été reporté",
    "demande des bénévoles",
    "avance bien",
    "pose problème",
    "est annulé",
    "sera discuté mardi",
    "a besoin de matériel",
    "est affiché à l'accueil",
    "intéresse les habitants",
]
DETAILS = [
    "rendez-vous à 18 h au centre social",
    "merci de prévenir le gardien du bâtiment C",
    "la ville a confirmé",
    "il faut un point d'eau",
    "prévoir des chaises et des tables",
    "on cherche des idées pour l'an prochain",
    "voir le plan joint",
    "la régie peut aider",
]
FIRST_NAMES = [
    "Amina",
    "Bernard",
    "Chantal",
    "Djibril",
    "Élodie",
    "Fatou",
    "Gérard",
    "Hélène",
    "Ibrahim",
    "Jeanne",
    "Karim",
    "Léa",
    "Mamadou",
    "Nadia",
    "Océane",
    "Pascal",
    "Rachid",
    "Sylvie",
    "Thierry",
    "Yasmina",
]
LAST_NAMES = [
    "Martin",
    "Benali",
    "Diallo",
    "Moreau",
    "Nguyen",
    "Petit",
    "Traoré",
    "Lefebvre",
    "Haddad",
    "Garcia",
    "Roux",
    "Mendy",
    "Fontaine",
    "Bouzid",
    "Leroy",
]
PLACES = [
    "Centre social des Tilleuls",
    "Salle polyvalente",
    "Maison de quartier",
    "Square Lamartine",
    "Mairie annexe",
    "Local de la régie",
    "EPN des Tilleuls",
]
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


def seed(
    spaces: int, scale: float, *, prefix: str = "quartier", progress: Callable[[str], None] = lambda _m: None
) -> Seeded:
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
    db.session.execute(
        insert(User),
        [
            {
                "username": username(n),
                "username_key": username(n),
                "password_hash": secret,
                "display_name": f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}",
                "email": f"{username(n)}@example.org",
                "created_at": now,
                "privacy": {},
            }
            for n in range(first_user, first_user + people)
        ],
    )
    user_ids = list(
        db.session.scalars(
            select(User.id).where(User.id >= first_user, User.username.like("habitant%")).order_by(User.id)
        )
    )
    counts = {key: 0 for key in PER_SPACE}
    slugs = []
    for number in range(1, spaces + 1):
        slug = f"{prefix}-{number:02d}"
        space = create_space(
            slug,
            f"Quartier {number:02d} — {rng.choice(SUBJECTS).capitalize()}",
            actor=None,
            description=sentence(rng),
            quota_mb=10_240,
        )
        db.session.flush()
        # The first space is the benchmarks' target: sixty members, enough for fifty distinct sessions.
        size = 60 if number == 1 else rng.randint(10, 60)
        members = (
            [user_ids[0]] + rng.sample(user_ids[1:], min(size, len(user_ids)) - 1)
            if number == 1
            else rng.sample(user_ids, min(size, len(user_ids)))
        )
        db.session.execute(
            insert(Membership),
            [
                {
                    "space_id": space.id,
                    "user_id": uid,
                    "role": "admin" if i == 0 else "reader" if i % 10 == 9 else "member",
                    "created_at": now,
                }
                for i, uid in enumerate(members)
            ],
        )
        for key, made in _fill(space, members, scale, rng, now).items():
            counts[key] += made
        space.last_activity_at = now
        slugs.append(slug)
        progress(f"{slug}: {size} members")
    db.session.execute(update(Space).where(Space.slug.in_(slugs)).values(last_activity_at=now))
    return Seeded(spaces=slugs, people=people, counts=counts)


def _bulk(model, rows: list[dict]) -> None:
    for start in range(0, len(rows), 2000):
        db.session.execute(insert(model), rows[start : start + 2000])


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

    from agora.modules import MODULES

    context = ScaleContext(
        space=space,
        members=members,
        writers=writers,
        rng=rng,
        now=now,
        want=want,
        html=html,
        bulk=_bulk,
        sentence=lambda: sentence(rng),
        subjects=SUBJECTS,
        places=PLACES,
    )
    for module in MODULES:  # in the registry's order: the same N and K give the same data
        if module.scale is not None:
            module.scale(context)
    return want
