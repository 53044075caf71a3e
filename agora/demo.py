"""Demo content: a neighbourhood's council, its GUP group and its partners, in French.

The people and spaces are here; each module's content is its own `demo.py`, which the registry
(agora/modules.py) names, so a newcomer sees a living server.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, func, select, update

from agora.auth import services as auth_services
from agora.auth.models import User
from agora.core.mail import OutboxMessage
from agora.core.time import utcnow
from agora.extensions import db
from agora.members import services as members
from agora.modules import MODULES
from agora.notifications.models import Notification
from agora.spaces import services

#: Phone, presentation and privacy for a few people, so the directory shows both choices.
DETAILS = {
    "nadia.benali": (
        "04 78 00 12 34",
        "Je coordonne le conseil citoyen. Permanence le mardi matin au centre social.",
        {"phone": "members", "email": "members"},
    ),
    "marc.durand": ("06 11 22 33 44", "Chantiers d'insertion, espaces verts et propreté.", {}),
    "lucie.moreau": ("04 78 00 56 78", "Ateliers numériques et aide aux démarches en ligne.", {"phone": "members"}),
    "bernard.roux": ("", "Locataire depuis 1987, je connais tout le monde !", {"presentation": "members"}),
}

#: (username, display name, e-mail or None). Habitants often have no e-mail.
PEOPLE = [
    ("nadia.benali", "Nadia Benali", "n.benali@centre-social-tilleuls.example"),
    ("marc.durand", "Marc Durand", "m.durand@regie-tilleuls.example"),
    ("sophie.martin", "Sophie Martin", "sophie.martin@ville-exemple.example"),
    ("karim.haddad", "Karim Haddad", None),
    ("fatou.diallo", "Fatou Diallo", None),
    ("jeanne.petit", "Jeanne Petit", None),
    ("ahmed.saidi", "Ahmed Saïdi", "ahmed.saidi@bailleur-habitat.example"),
    ("lucie.moreau", "Lucie Moreau", "l.moreau@epn-tilleuls.example"),
    ("bernard.roux", "Bernard Roux", None),
    ("aicha.traore", "Aïcha Traoré", None),
]

SPACES = [
    {
        "slug": "conseil-tilleuls",
        "name": "Conseil citoyen des Tilleuls",
        "description": "Les habitantes et habitants du quartier qui participent au contrat de ville.",
        "colour": "#0b5cad",
        "members": {
            "nadia.benali": "admin",
            "karim.haddad": "member",
            "fatou.diallo": "member",
            "jeanne.petit": "reader",
            "bernard.roux": "member",
            "aicha.traore": "reader",
        },
        "news": [
            (
                "Prochaine plénière le mardi 8 décembre à 18 h",
                "Salle polyvalente du centre social, 12 rue des Tilleuls.\n\n"
                "À l'ordre du jour : le bilan de la fête de quartier et le projet de jardin partagé. Garde d'enfants possible sur place.",
                True,
            ),
            (
                "Compte rendu de la marche exploratoire",
                "Merci aux douze habitantes qui ont participé. Les points relevés "
                "(éclairage du passage Jean-Moulin, bancs cassés square Colette) sont transmis à la GUP.",
                False,
            ),
        ],
    },
    {
        "slug": "gup-tilleuls",
        "name": "GUP des Tilleuls",
        "description": "Gestion urbaine de proximité : bailleurs, ville, régie de quartier et habitants.",
        "colour": "#1e6b33",
        "members": {
            "sophie.martin": "admin",
            "marc.durand": "member",
            "ahmed.saidi": "member",
            "nadia.benali": "member",
            "karim.haddad": "reader",
        },
        "news": [
            (
                "Diagnostic en marchant : jeudi 14 h",
                "Départ devant la loge du gardien, bâtiment C. Prévoir des chaussures confortables.",
                True,
            ),
            (
                "Encombrants : nouveau calendrier",
                "La régie de quartier passe désormais le premier lundi du mois.",
                False,
            ),
        ],
    },
    {
        "slug": "partenaires-tilleuls",
        "name": "Partenaires du quartier des Tilleuls",
        "description": "Centre social, régie de quartier, équipe de la ville, associations et EPN.",
        "colour": "#7a3e9d",
        "members": {
            "nadia.benali": "admin",
            "marc.durand": "member",
            "sophie.martin": "member",
            "ahmed.saidi": "member",
            "lucie.moreau": "member",
        },
        "news": [
            (
                "Fête de quartier : réunion de préparation",
                "Rendez-vous vendredi à 10 h à la régie. Chaque structure apporte la liste de ses animations.",
                False,
            ),
            (
                "Ateliers numériques à l'EPN",
                "Aide aux démarches en ligne tous les mercredis après-midi, sans rendez-vous.",
                False,
            ),
        ],
    },
]


def create_demo(admin_name: str = "admin") -> list[str]:
    """Create the demo spaces that do not exist yet; return their slugs. The caller commits.

    The account admin_name, when it exists, is made admin of each demo space so it can show them.
    """
    admin = auth_services.get_user_by_username(admin_name)
    people: dict[str, User] = {}
    for username, display_name, email in PEOPLE:
        person = auth_services.get_user_by_username(username)
        if person is None:
            person = auth_services.create_user(username, None, display_name=display_name, email=email)
            if username in DETAILS:
                phone, presentation, privacy = DETAILS[username]
                members.update_profile_details(person, phone=phone, presentation=presentation, privacy=privacy)
        people[username] = person

    created = []
    now = utcnow()
    mail_before = db.session.scalar(select(func.coalesce(func.max(OutboxMessage.id), 0)))
    notices_before = db.session.scalar(select(func.coalesce(func.max(Notification.id), 0)))
    for spec in SPACES:
        if services.get_space_by_slug(spec["slug"]) is not None:
            continue
        space = services.create_space(spec["slug"], spec["name"], actor=admin, description=spec["description"])
        space.colour = spec["colour"]
        if admin is not None:
            services.add_member(space, admin, "admin", actor=admin)
        for username, role in spec["members"].items():
            services.add_member(space, people[username], role, actor=admin)
        author = next(people[u] for u, r in spec["members"].items() if r == "admin")
        for age, (title, body, pinned) in enumerate(spec["news"]):
            news = services.save_news(space, None, title=title, body=body, is_pinned=pinned, author=author)
            news.created_at = now - timedelta(days=2 * age + 1)
        db.session.flush()
        for module in MODULES:  # each module brings its own content, in the registry's demo order
            if module.demo is not None:
                module.demo(space, people, admin)
        created.append(space.slug)
    # Demo conversations mention and notify demo people: the bells show it, but none of it is real mail.
    db.session.execute(delete(OutboxMessage).where(OutboxMessage.id > mail_before))
    db.session.execute(update(Notification).where(Notification.id > notices_before).values(mail_due_at=None))
    return created
