"""Time zones offered to people: France and its overseas departments first, then the rest."""

from zoneinfo import available_timezones

from wtforms import SelectChoice

FRENCH_ZONES = [
    "Europe/Paris",
    "America/Guadeloupe",
    "America/Martinique",
    "America/Cayenne",
    "Indian/Reunion",
    "Indian/Mayotte",
    "Pacific/Noumea",
    "Pacific/Tahiti",
    "America/Miquelon",
]
TIMEZONE_CHOICES = [SelectChoice(z) for z in FRENCH_ZONES] + [
    SelectChoice(z)
    for z in sorted(available_timezones())
    if z not in FRENCH_ZONES and "/" in z and not z.startswith(("Etc/", "SystemV/"))
]
TIMEZONE_NAMES = frozenset(c.value for c in TIMEZONE_CHOICES)
