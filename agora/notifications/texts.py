"""The words of notifications, translated when shown or mailed, never when stored."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l

#: One line per thing that happened; %(actor)s and %(title)s come from the row.
VERBS = {
    "forum.topic": _l("%(actor)s a ouvert la discussion « %(title)s »"),
    "forum.reply": _l("%(actor)s a répondu dans « %(title)s »"),
    "forum.mention": _l("%(actor)s vous a mentionné dans « %(title)s »"),
    "agenda.event": _l("%(actor)s a ajouté l'événement « %(title)s »"),
    "agenda.changed": _l("%(actor)s a modifié l'événement « %(title)s »"),
    "agenda.cancelled": _l("%(actor)s a supprimé l'événement « %(title)s »"),
    "tasks.assigned": _l("%(actor)s vous a confié la tâche « %(title)s »"),
    "tasks.due": _l("%(actor)s a changé l'échéance de la tâche « %(title)s »"),
    "tasks.comment": _l("%(actor)s a commenté la tâche « %(title)s »"),
    "documents.document": _l("%(actor)s a déposé « %(title)s »"),
    "documents.version": _l("%(actor)s a déposé une nouvelle version de « %(title)s »"),
    "news": _l("%(actor)s a publié l'annonce « %(title)s »"),
    "polls.poll": _l("%(actor)s a lancé le sondage « %(title)s »"),
}

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
    verb = VERBS.get(item.verb)
    if verb is None:
        return item.title
    return str(verb) % {"actor": item.actor_name or str(SOMEONE), "title": item.title}
