"""Demo content of the agenda: meetings, walks and workshops of each demo space over the coming weeks."""

from __future__ import annotations

from datetime import timedelta

from agora.agenda import services as agenda
from agora.auth.models import User
from agora.core.time import utcnow

#: (title, author, weekday offset from next Monday, start, end, repeat, count, location, category)
AGENDA = {
    "conseil-tilleuls": [
        (
            "Plénière du conseil citoyen",
            "nadia.benali",
            8,
            "18:00",
            "20:00",
            "monthly_weekday",
            6,
            "Salle polyvalente, 12 rue des Tilleuls",
            "Réunion",
        ),
        (
            "Permanence du conseil",
            "karim.haddad",
            2,
            "10:00",
            "12:00",
            "weekly",
            20,
            "Centre social des Tilleuls",
            "Permanence",
        ),
        (
            "Fête de quartier : préparation",
            "nadia.benali",
            18,
            "14:00",
            "16:00",
            "none",
            None,
            "Régie de quartier",
            "Réunion",
        ),
    ],
    "gup-tilleuls": [
        (
            "Diagnostic en marchant",
            "sophie.martin",
            3,
            "14:00",
            "16:00",
            "monthly_weekday",
            6,
            "Départ devant la loge du gardien, bâtiment C",
            "Sortie",
        ),
        ("Passage des encombrants", "marc.durand", 0, None, None, "monthly_date", 12, "Tout le quartier", "Propreté"),
    ],
    "partenaires-tilleuls": [
        ("Ateliers numériques", "lucie.moreau", 2, "14:00", "17:00", "weekly", 30, "EPN des Tilleuls", "Atelier"),
        (
            "Comité de pilotage du contrat de ville",
            "sophie.martin",
            24,
            "09:30",
            "12:00",
            "none",
            None,
            "Mairie annexe",
            "Réunion",
        ),
    ],
}


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """Meetings, walks and workshops over the coming weeks, some of them repeating."""
    from datetime import date, time

    today = utcnow().date()
    next_monday = today + timedelta(days=7 - today.weekday())
    categories = {}
    for title, author, offset, start, end, repeat, count, location, category in AGENDA.get(space.slug, []):
        if category not in categories:
            categories[category] = agenda.save_category(space, name=category, colour="#0b5cad")
        day: date = next_monday + timedelta(days=offset)
        agenda.create_event(
            space,
            people[author],
            agenda.EventData(
                title=title,
                start_date=day,
                end_date=day,
                all_day=start is None,
                start_time=time.fromisoformat(start) if start else None,
                end_time=time.fromisoformat(end) if end else None,
                location=location,
                category_id=categories[category].id,
                repeat=repeat,
                count=count,
            ),
        )
