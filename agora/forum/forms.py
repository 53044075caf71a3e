"""Forum forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from agora.core.urls import to_id
from agora.documents.forms import attachments_field, photos_field, voice_field, words_or_voice
from agora.forum.models import BODY_MAX, TITLE_MAX

TITLE_TOO_LONG = _l("Le titre ne doit pas dépasser %(max)d caractères.")
BODY_TOO_LONG = _l("Le message ne doit pas dépasser %(max)d caractères.")
#: A reply needs words or a voice message.
EMPTY_REPLY = _l("Le message est vide : écrivez quelque chose ou enregistrez un message vocal.")


class TopicForm(FlaskForm):
    title = StringField(
        _l("Titre du sujet"),
        validators=[DataRequired(_l("Donnez un titre au sujet.")), Length(max=TITLE_MAX, message=TITLE_TOO_LONG)],
    )
    category = SelectField(_l("Thème"), coerce=to_id, validate_choice=False, default=0)
    body = TextAreaField(
        _l("Votre message"),
        validators=[
            DataRequired(_l("Le message est vide : écrivez quelque chose.")),
            Length(max=BODY_MAX, message=BODY_TOO_LONG),
        ],
    )
    attachments = attachments_field()


class ReplyForm(FlaskForm):
    #: May stay empty when a voice message comes with it (checked once the file's type is known).
    body = TextAreaField(
        _l("Votre réponse"), validators=[Length(max=BODY_MAX, message=BODY_TOO_LONG), words_or_voice(EMPTY_REPLY)]
    )
    voice = voice_field()
    photos = photos_field()
    attachments = attachments_field()


class EditPostForm(FlaskForm):
    title = StringField(_l("Titre du sujet"), validators=[Optional(), Length(max=TITLE_MAX, message=TITLE_TOO_LONG)])
    #: Empty only for a message that carries a voice message (the service checks).
    body = TextAreaField(_l("Message"), validators=[Length(max=BODY_MAX, message=BODY_TOO_LONG)])


class CategoryForm(FlaskForm):
    name = StringField(_l("Nom du thème"), validators=[DataRequired(_l("Donnez un nom au thème.")), Length(max=80)])
    colour = StringField(
        _l("Couleur"),
        default="#0b5cad",
        validators=[Regexp(r"^#[0-9a-fA-F]{6}$", message=_l("La couleur doit être au format #RRVVBB."))],
    )
    position = IntegerField(_l("Ordre d'affichage"), default=0, validators=[Optional(), NumberRange(-1000, 1000)])


class ModerateForm(FlaskForm):
    is_pinned = BooleanField(_l("Épinglé en haut de la liste"))
    is_locked = BooleanField(_l("Fermé (plus de réponses)"))
    category = SelectField(_l("Thème"), coerce=to_id, validate_choice=False, default=0)
