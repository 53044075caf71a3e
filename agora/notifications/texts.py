"""The words of notifications, translated when shown or mailed, never when stored.

The sentence of each verb ("forum.reply"...) is declared by its module in agora/modules.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from agora.core import registry

SOMEONE = _l("Quelqu'un")

#: What each kind covers, as the preferences page asks it.
KIND_LABELS = {
    "topic": _l("Une nouvelle discussion est ouverte dans le forum"),
    "reply": _l("Quelqu'un répond dans une discussion que je suis"),
    "mention": _l("Quelqu'un me cite avec @ dans un message"),
    "event": _l("Un événement est ajouté, modifié ou supprimé dans l'agenda"),
    "task": _l("On me confie une tâche, ou on commente une de mes tâches"),
    "document": _l("Un document est déposé dans un dossier que je suis"),
    "news": _l("L'espace publie une annonce ou lance un sondage"),
}

DELIVERY_LABELS = {
    "now": _l("E-mail tout de suite"),
    "daily": _l("Un e-mail par jour (résumé)"),
    "weekly": _l("Un e-mail par semaine (résumé)"),
    "none": _l("Pas d'e-mail, seulement la cloche"),
}

#: Subjects of a grouped mail: how many new things and where.
GROUP_SUBJECTS = {
    "reply": _l("%(count)s nouveaux messages dans « %(title)s »"),
    "mention": _l("%(count)s nouveaux messages dans « %(title)s »"),
    "topic": _l("%(count)s nouvelles discussions dans le forum"),
    "event": _l("%(count)s changements dans l'agenda"),
    "task": _l("%(count)s nouvelles sur vos tâches"),
    "document": _l("%(count)s documents déposés"),
    "news": _l("%(count)s annonces et sondages"),
}


def sentence(item) -> str:
    """The one-line text of a notification row in the current language."""
    verb = registry.notification_verbs().get(item.verb)
    if verb is None:
        return item.title
    return str(verb) % {"actor": item.actor_name or str(SOMEONE), "title": item.title}
