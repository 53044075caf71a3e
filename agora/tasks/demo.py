"""Demo content of the tasks: an action plan per demo space."""

from __future__ import annotations

from datetime import timedelta

from agora.auth.models import User
from agora.core.time import utcnow

#: (list, title, assignee, days from today to the due date, status index)
TASKS = {
    "conseil-tilleuls": [
        ("Projet de jardin partagé", "Faire un plan du terrain", "karim.haddad", 10, 1),
        ("Projet de jardin partagé", "Demander l'accord du bailleur", "nadia.benali", -3, 0),
        ("Projet de jardin partagé", "Trouver des bénévoles", "fatou.diallo", 20, 0),
    ],
    "partenaires-tilleuls": [
        ("Fête de quartier", "Réserver la sono", "marc.durand", 14, 0),
        ("Fête de quartier", "Imprimer les affiches", "lucie.moreau", 5, 1),
        ("Fête de quartier", "Demander l'autorisation de la mairie", "sophie.martin", -10, 2),
    ],
}


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """An action plan per space, one task late, so "my tasks" and the board have something to show."""
    from agora.tasks import services as tasks

    today = utcnow().date()
    made_lists = {}
    all_statuses = tasks.statuses(space)
    for list_name, title, username, due_in, status_index in TASKS.get(space.slug, []):
        if list_name not in made_lists:
            made_lists[list_name] = tasks.save_list(space, name=list_name, description="")
        tasks.save_task(
            space,
            None,
            tasks.TaskData(
                title=title,
                list_id=made_lists[list_name].id,
                status_id=all_statuses[status_index].id,
                start_on=today + timedelta(days=due_in - 10),
                due_on=today + timedelta(days=due_in),
                assignee_ids=(people[username].id,),
            ),
            actor=people[username],
        )
