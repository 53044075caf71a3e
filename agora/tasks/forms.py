"""Task forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, SelectChoice, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from agora.core.forms import supported_date
from agora.core.urls import to_id
from agora.documents.forms import attachments_field, photos_field, voice_field, words_or_voice

PRIORITY_CHOICES = [
    SelectChoice("normal", _l("normale")),
    SelectChoice("high", _l("haute")),
    SelectChoice("low", _l("basse")),
]


class TaskForm(FlaskForm):
    title = StringField(_l("Titre"), validators=[DataRequired(_l("Donnez un titre à la tâche.")), Length(max=200)])
    task_list = SelectField(_l("Liste"), coerce=to_id, validate_choice=False)
    status = SelectField(_l("Statut"), coerce=to_id, validate_choice=False)
    assignees = SelectMultipleField(
        _l("Qui s'en occupe"),
        coerce=to_id,
        validate_choice=False,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
    )
    start_on = DateField(_l("Début"), validators=[Optional(), supported_date])
    due_on = DateField(_l("Échéance"), validators=[Optional(), supported_date])
    priority = SelectField(_l("Priorité"), choices=PRIORITY_CHOICES, default="normal")
    progress = IntegerField(
        _l("Avancement (%)"),
        default=0,
        validators=[Optional(), NumberRange(0, 100, _l("L'avancement va de 0 à 100 %%."))],
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=20000)])
    attachments = attachments_field()


class NameForm(FlaskForm):
    name = StringField(_l("Nom"), validators=[DataRequired(_l("Donnez un nom.")), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


#: A comment needs words or a voice message.
EMPTY_COMMENT = _l("Le commentaire est vide : écrivez quelque chose ou enregistrez un message vocal.")


class CommentForm(FlaskForm):
    #: May stay empty when a voice message comes with it (checked once the file's type is known).
    body = TextAreaField(
        _l("Votre commentaire"),
        validators=[Length(max=10000, message=_l("Le commentaire est trop long.")), words_or_voice(EMPTY_COMMENT)],
    )
    voice = voice_field()
    photos = photos_field()


class ChecklistForm(FlaskForm):
    text = StringField(
        _l("Nouvel élément de la liste de contrôle"),
        validators=[DataRequired(_l("Écrivez l'élément à ajouter.")), Length(max=300)],
    )
