"""Demo content of the directory: the partners of each demo space, and who belongs to which."""

from __future__ import annotations

from agora.auth.models import User
from agora.members import services as members
from agora.spaces.tenancy import membership_in

#: Who works where, and as what: (organisation, function) per username.
WORKPLACES = {
    "nadia.benali": ("Centre social des Tilleuls", "Animatrice du conseil citoyen"),
    "marc.durand": ("Régie de quartier", "Encadrant technique"),
    "sophie.martin": ("Ville – Politique de la ville", "Cheffe de projet"),
    "ahmed.saidi": ("Habitat Tilleuls (bailleur)", "Gardien, bâtiment C"),
    "lucie.moreau": ("EPN des Tilleuls", "Médiatrice numérique"),
    "karim.haddad": ("Habitants", "Membre du conseil citoyen"),
    "fatou.diallo": ("Habitants", "Membre du conseil citoyen"),
    "bernard.roux": ("Habitants", "Président de l'amicale des locataires"),
}


def seed_demo(space, people: dict[str, User], admin: User | None) -> None:
    """The partners of the space, and who belongs to which."""
    for username, person in people.items():
        if username not in WORKPLACES or membership_in(person, space) is None:
            continue
        organisation_name, function = WORKPLACES[username]
        organisation = members.find_organisation(space, organisation_name) or members.save_organisation(
            space, None, name=organisation_name, description=""
        )
        membership = membership_in(people[username], space)
        members.set_membership_details(space, membership, organisation_id=organisation.id, function=function)
