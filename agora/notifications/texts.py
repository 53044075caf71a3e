"""The words of notifications, translated when shown or mailed, never when stored.

The sentence of each verb ("forum.reply"...), and the question and grouped-mail subject of each
kind of the preferences page, are declared by their module in agora/modules.py."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l

from agora.core import registry

SOMEONE = _l("Quelqu'un")

DELIVERY_LABELS = {
    "now": _l("E-mail tout de suite"),
    "daily": _l("Un e-mail par jour (résumé)"),
    "weekly": _l("Un e-mail par semaine (résumé)"),
    "none": _l("Pas d'e-mail, seulement la cloche"),
}


def sentence(item) -> str:
    """The one-line text of a notification row in the current language."""
    verb = registry.notification_verbs().get(item.verb)
    if verb is None:
        return item.title
    return str(verb) % {"actor": item.actor_name or str(SOMEONE), "title": item.title}
