"""Agenda forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from agora.core.forms import supported_date
from agora.core.timezones import TimezoneField
from agora.core.urls import to_id
from agora.documents.forms import attachments_field

REPEAT_CHOICES = [
    SelectChoice("none", _l("Ne se répète pas")),
    SelectChoice("daily", _l("Tous les jours")),
    SelectChoice("weekly", _l("Toutes les semaines")),
    SelectChoice("monthly_date", _l("Tous les mois, à la même date")),
    SelectChoice("monthly_weekday", _l("Tous les mois, le même jour de la semaine (ex. : 2e mardi)")),
    SelectChoice("yearly", _l("Tous les ans")),
]
WEEKDAY_CHOICES = [
    SelectChoice("MO", _l("lundi")),
    SelectChoice("TU", _l("mardi")),
    SelectChoice("WE", _l("mercredi")),
    SelectChoice("TH", _l("jeudi")),
    SelectChoice("FR", _l("vendredi")),
    SelectChoice("SA", _l("samedi")),
    SelectChoice("SU", _l("dimanche")),
]
END_CHOICES = [
    SelectChoice("never", _l("jamais")),
    SelectChoice("until", _l("à une date")),
    SelectChoice("count", _l("après un nombre de fois")),
]


class EventForm(FlaskForm):
    title = StringField(_l("Titre"), validators=[DataRequired(_l("Donnez un titre à l'événement.")), Length(max=200)])
    start_date = DateField(
        _l("Date de début"), validators=[DataRequired(_l("Indiquez la date de début.")), supported_date]
    )
    start_time = TimeField(_l("Heure de début"), validators=[Optional()])
    end_date = DateField(_l("Date de fin"), validators=[DataRequired(_l("Indiquez la date de fin.")), supported_date])
    end_time = TimeField(_l("Heure de fin"), validators=[Optional()])
    all_day = BooleanField(_l("Toute la journée"))
    tz = TimezoneField(_l("Fuseau horaire"), default="Europe/Paris")
    location = StringField(_l("Lieu (adresse)"), validators=[Optional(), Length(max=300)])
    url = StringField(_l("Lien (visio ou page web)"), validators=[Optional(), Length(max=500)])
    category = SelectField(_l("Catégorie"), coerce=to_id, validate_choice=False, default=0)
    resources = SelectMultipleField(
        _l("Réserver (salle, matériel)"),
        coerce=to_id,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    repeat = SelectField(_l("Répétition"), choices=REPEAT_CHOICES, default="none")
    interval = IntegerField(
        _l("Tous les combien (1 = chaque fois, 2 = une sur deux…)"),
        default=1,
        validators=[Optional(), NumberRange(1, 99, _l("Entre 1 et 99."))],
    )
    weekdays = SelectMultipleField(
        _l("Les jours (répétition chaque semaine)"),
        choices=WEEKDAY_CHOICES,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    ends = SelectField(_l("La répétition s'arrête"), choices=END_CHOICES, default="never")
    until = DateField(_l("Dernière date"), validators=[Optional(), supported_date])
    count = IntegerField(_l("Nombre de fois"), validators=[Optional(), NumberRange(1, 1000, _l("Entre 1 et 1000."))])
    attachments = attachments_field()


class CategoryForm(FlaskForm):
    name = StringField(
        _l("Nom de la catégorie"), validators=[DataRequired(_l("Donnez un nom à la catégorie.")), Length(max=80)]
    )
    colour = StringField(_l("Couleur"), default="#0b5cad", validators=[DataRequired(), Length(max=7)])


class OccurrenceForm(EventForm):
    """One date of a series: change only it, or it and every later one."""

    scope = SelectField(
        _l("Appliquer à"),
        choices=[
            SelectChoice("this", _l("cette date seulement")),
            SelectChoice("following", _l("cette date et les suivantes")),
        ],
        default="this",
    )


class ResourceForm(FlaskForm):
    name = StringField(
        _l("Nom de la ressource"), validators=[DataRequired(_l("Donnez un nom à la ressource.")), Length(max=120)]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


class CalendarImportForm(FlaskForm):
    file = FileField(_l("Fichier d'agenda (.ics)"), validators=[FileRequired(_l("Choisissez un fichier .ics."))])
