"""Time zones offered to people: France and its overseas territories by the names people know,
then every other zone under « Autres fuseaux »."""

from zoneinfo import available_timezones

from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice, SelectField, ValidationError

#: The zones a French neighbourhood is likely to need, with the names people recognise.
FRENCH_ZONES = [
    SelectChoice("Europe/Paris", _l("Paris (France métropolitaine)")),
    SelectChoice("America/Guadeloupe", _l("Guadeloupe")),
    SelectChoice("America/Martinique", _l("Martinique")),
    SelectChoice("America/Cayenne", _l("Guyane")),
    SelectChoice("Indian/Reunion", _l("La Réunion")),
    SelectChoice("Indian/Mayotte", _l("Mayotte")),
    SelectChoice("Pacific/Noumea", _l("Nouvelle-Calédonie")),
    SelectChoice("Pacific/Tahiti", _l("Polynésie française (Tahiti)")),
    SelectChoice("America/Miquelon", _l("Saint-Pierre-et-Miquelon")),
    SelectChoice("America/St_Barthelemy", _l("Saint-Barthélemy")),
    SelectChoice("America/Marigot", _l("Saint-Martin")),
    SelectChoice("Pacific/Wallis", _l("Wallis-et-Futuna")),
]
FRANCE = _l("France et outre-mer")
OTHER_ZONES = _l("Autres fuseaux")
_FRENCH_NAMES = frozenset(c.value for c in FRENCH_ZONES)
#: Every zone the tz database knows, old aliases included (a calendar import may bring « UTC »),
#: but for the machine's own and the placeholder ones.
VALID_ZONES = frozenset(available_timezones()) - {"localtime", "Factory", "posixrules"}
TIMEZONE_CHOICES = [SelectChoice(c.value, c.label, optgroup=FRANCE) for c in FRENCH_ZONES] + [
    SelectChoice(z, z.replace("_", " "), optgroup=OTHER_ZONES)
    for z in sorted(VALID_ZONES)
    if z not in _FRENCH_NAMES and "/" in z and not z.startswith(("Etc/", "SystemV/"))
]
#: The zones the list offers.
TIMEZONE_NAMES = frozenset(c.value for c in TIMEZONE_CHOICES)


class TimezoneField(SelectField):
    """A time zone picked from the list. Any zone of the tz database is accepted: one the list does
    not offer (an imported event's « UTC ») shows as an extra choice, so saving keeps it."""

    def __init__(self, label=None, validators=None, **kwargs):
        super().__init__(label, validators, choices=TIMEZONE_CHOICES, validate_choice=False, **kwargs)

    @property
    def choices(self) -> list[SelectChoice]:
        if self.data in VALID_ZONES and self.data not in TIMEZONE_NAMES:
            return [*TIMEZONE_CHOICES, SelectChoice(self.data, self.data.replace("_", " "), optgroup=OTHER_ZONES)]
        return TIMEZONE_CHOICES

    @choices.setter
    def choices(self, value) -> None:
        """The list is fixed: what SelectField sets is ignored."""

    def pre_validate(self, form) -> None:
        if self.data not in VALID_ZONES:
            raise ValidationError(_l("Ce fuseau horaire n'existe pas : choisissez-en un dans la liste."))
