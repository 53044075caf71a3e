"""The audit log in words: what each action code means, in plain French, and the groups the
hosting admin filters the log by.

Every code passed to `services.audit` is listed here; `tests/test_admin.py` reads the source for
the codes it writes and fails on one without words, so a new action cannot reach the log as a raw
code. The codes themselves stay in the database as they are: scripts and exports rely on them.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l


@dataclass(frozen=True)
class Group:
    key: str
    label: object
    actions: dict[str, object]


GROUPS = (
    Group(
        "logins",
        _l("Connexions"),
        {
            "login.success": _l("Connexion"),
            "login.failed": _l("Connexion refusée (mauvais mot de passe)"),
            "login.throttled": _l("Connexion bloquée (trop d'essais)"),
            "login.ended": _l("Connexion fermée"),
            "login.ended_others": _l("Autres connexions fermées"),
        },
    ),
    Group(
        "accounts",
        _l("Comptes et mots de passe"),
        {
            "account.created": _l("Compte créé"),
            "account.disabled": _l("Compte désactivé"),
            "account.enabled": _l("Compte réactivé"),
            "account.reset": _l("Lien de nouveau mot de passe donné par l'hébergeur"),
            "account.setup_link": _l("Lien de création du mot de passe donné"),
            "account.password_link": _l("Lien de nouveau mot de passe donné"),
            "password.changed": _l("Mot de passe changé"),
            "password.reset_requested": _l("Mot de passe oublié : lien demandé"),
            "password.reset": _l("Mot de passe choisi avec un lien oublié"),
            "password.setup": _l("Mot de passe choisi avec un lien de création"),
        },
    ),
    Group(
        "spaces",
        _l("Espaces"),
        {
            "space.created": _l("Espace créé"),
            "space.updated": _l("Espace modifié par l'hébergeur"),
            "space.settings_changed": _l("Réglages de l'espace changés"),
            "space.archived": _l("Espace archivé"),
            "space.restored": _l("Espace rouvert"),
            "space.deleted": _l("Espace supprimé"),
            "admin.self_grant": _l("L'hébergeur s'est donné accès à l'espace"),
        },
    ),
    Group(
        "members",
        _l("Membres et invitations"),
        {
            "member.added": _l("Membre ajouté"),
            "member.removed": _l("Membre retiré"),
            "member.role_changed": _l("Rôle changé"),
            "members.imported": _l("Membres importés"),
            "invitation.created": _l("Invitation créée"),
            "invitation.used": _l("Invitation utilisée"),
            "invitation.revoked": _l("Invitation annulée"),
            "invitation.declined": _l("Invitation refusée"),
            "invitation.code_refused": _l("Code d'invitation inconnu tapé"),
            "invitation.code_throttled": _l("Code d'invitation bloqué (trop d'essais)"),
        },
    ),
)

LABELS: dict[str, object] = {code: label for group in GROUPS for code, label in group.actions.items()}

#: Words for the keys of an entry's details, and for the values that are codes themselves.
DETAIL_KEYS = {
    "role": _l("rôle"),
    "from": _l("avant"),
    "to": _l("après"),
    "via": _l("par"),
    "rows": _l("lignes"),
    "max_uses": _l("utilisations possibles"),
    "days": _l("jours de validité"),
    "count": _l("nombre"),
    "site_admin": _l("administrateur du serveur"),
    "quota_mb": _l("quota (Mo)"),
    "space": _l("espace"),
}
DETAIL_VALUES = {
    "admin": _l("administrateur"),
    "member": _l("membre"),
    "reader": _l("lecteur"),
    "cli": _l("ligne de commande"),
    "import": _l("import"),
    "console": _l("console d'hébergement"),
    True: _l("oui"),
    False: _l("non"),
}


def action_label(code: str) -> str:
    """The action in words; an unknown code (written by an older version) shows as itself."""
    label = LABELS.get(code)
    return str(label) if label is not None else code


def detail_items(details: dict | None) -> list[tuple[str, str]]:
    """An entry's details as (word, value) pairs, in a stable order."""
    items = []
    for key, value in (details or {}).items():
        word = DETAIL_KEYS.get(key)
        shown = DETAIL_VALUES.get(value) if isinstance(value, bool | str) else None
        items.append((str(word) if word is not None else key, str(shown) if shown is not None else str(value)))
    return items


def group_actions(key: str) -> list[str] | None:
    """The codes of a group, or None for a key that names no group."""
    for group in GROUPS:
        if group.key == key:
            return list(group.actions)
    return None
