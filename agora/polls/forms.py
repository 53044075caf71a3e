"""Poll forms: a choice poll, a date poll, and the (empty) ballot form that carries the CSRF token."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    RadioField,
    SelectChoice,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from agora.core.forms import supported_date

ROWS = 6


class OptionForm(Form):
    text = StringField(_l("Choix"), validators=[Optional(), Length(max=200)])
    image = FileField(_l("Image (facultative)"))


class SlotForm(Form):
    day = DateField(_l("Date"), validators=[Optional(), supported_date])
    time = TimeField(_l("Heure"), validators=[Optional()])


class PollFormBase(FlaskForm):
    question = StringField(_l("Question"), validators=[DataRequired(_l("Écrivez la question.")), Length(max=300)])
    description = TextAreaField(_l("Explications (facultatives)"), validators=[Optional(), Length(max=10000)])
    opens_on = DateField(_l("Ouverture le (facultatif : sinon tout de suite)"), validators=[Optional(), supported_date])
    opens_time = TimeField(_l("à"), validators=[Optional()])
    closes_on = DateField(_l("Clôture le (facultatif)"), validators=[Optional(), supported_date])
    closes_time = TimeField(_l("à"), validators=[Optional()])
    readers_vote = BooleanField(_l("Les lecteurs votent aussi (par exemple les habitants qui suivent le conseil)"))
    is_anonymous = BooleanField(
        _l("Vote anonyme : personne ne pourra savoir qui a choisi quoi (le vote ne pourra pas être changé)")
    )
    results_live = BooleanField(
        _l("Montrer les résultats pendant le vote (sinon : seulement après la clôture)"), default=True
    )
    allow_change = BooleanField(_l("Chacun peut changer son vote jusqu'à la clôture"), default=True)


class ChoicePollForm(PollFormBase):
    kind = RadioField(
        _l("Combien de réponses ?"),
        default="single",
        choices=[
            SelectChoice("single", _l("une seule réponse")),
            SelectChoice("multiple", _l("plusieurs réponses possibles")),
        ],
    )
    max_choices = IntegerField(
        _l("Nombre maximum de réponses (facultatif, pour « plusieurs réponses »)"),
        validators=[Optional(), NumberRange(1, 20, _l("Entre 1 et 20."))],
    )
    options = FieldList(FormField(OptionForm), label=_l("Choix"), min_entries=ROWS, max_entries=20)


class DatePollForm(PollFormBase):
    slot_minutes = IntegerField(
        _l("Durée de chaque rendez-vous (en minutes)"),
        default=120,
        validators=[DataRequired(_l("Indiquez une durée.")), NumberRange(15, 1440, _l("Entre 15 et 1440."))],
    )
    slots = FieldList(
        FormField(SlotForm), label=_l("Dates proposées (au moins deux)"), min_entries=ROWS, max_entries=20
    )


class BallotForm(FlaskForm):
    """The ballot's fields are read from the request; this form checks the CSRF token."""
