"""Demo content of the polls: a vote on a name, a date poll, a multiple choice."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from agora.auth.models import User
from agora.core.time import utcnow

#: Per space: (author, question, kind, options or days ahead at 18:00, settings, ballots {username: choices}).
POLLS = {
    "conseil-tilleuls": [
        (
            "nadia.benali",
            "Quel nom pour le jardin partagé ?",
            "single",
            ["Le Jardin des Tilleuls", "La Main verte", "Le Potager du bâtiment C"],
            {"is_anonymous": True, "readers_vote": True},
            {"karim.haddad": [0], "fatou.diallo": [2], "bernard.roux": [0]},
        ),
        (
            "nadia.benali",
            "Quelle soirée pour la prochaine plénière ?",
            "dates",
            [12, 14, 19],
            {"readers_vote": True},
            {
                "karim.haddad": ["yes", "maybe", "no"],
                "fatou.diallo": ["no", "yes", "yes"],
                "jeanne.petit": ["yes", "yes", "maybe"],
            },
        ),
    ],
    "gup-tilleuls": [
        (
            "sophie.martin",
            "Priorités du prochain diagnostic en marchant",
            "multiple",
            [
                "Éclairage du passage Jean-Moulin",
                "Propreté du square Colette",
                "Stationnement rue des Lilas",
                "Bancs et jeux",
            ],
            {"max_choices": 2},
            {"marc.durand": [0, 1], "ahmed.saidi": [0, 3]},
        ),
    ],
}


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """An anonymous vote on a name, a date poll for the next plenary, a multiple choice with a maximum."""
    from zoneinfo import ZoneInfo

    from agora.polls import services as polls

    today = utcnow().astimezone(ZoneInfo("Europe/Paris")).date()
    for username, question, kind, choices, settings, ballots in POLLS.get(space.slug, []):
        closes = datetime.combine(today + timedelta(days=21), time(20, 0), tzinfo=ZoneInfo("Europe/Paris"))
        data = polls.PollData(question=question, kind=kind, closes_at=closes, **settings)
        if kind == "dates":
            data.slots = [
                datetime.combine(today + timedelta(days=n), time(18, 0), tzinfo=ZoneInfo("Europe/Paris"))
                for n in choices
            ]
        else:
            data.options = choices
        poll = polls.create_poll(space, people[username], data)
        option_ids = [o.id for o in polls.options(poll)]
        for voter, picks in ballots.items():
            if kind == "dates":
                answers = dict(zip(option_ids, picks, strict=True))
            else:
                answers = {option_ids[n]: "yes" for n in picks}
            polls.cast_ballot(space, poll, people[voter], answers)
