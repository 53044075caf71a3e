"""Member directory forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from agora.core.urls import to_id

AUDIENCE_CHOICES = [
    SelectChoice("members", _l("les membres de mes espaces")),
    SelectChoice("admins", _l("les administrateurs de mes espaces seulement")),
    SelectChoice("nobody", _l("personne")),
]


class MyDetailsForm(FlaskForm):
    organisation = SelectField(_l("Ma structure dans cet espace"), coerce=to_id, validate_choice=False, default=0)
    function = StringField(
        _l("Ma fonction (par exemple : animatrice, président, habitant)"), validators=[Optional(), Length(max=120)]
    )


class OrganisationForm(FlaskForm):
    name = StringField(
        _l("Nom de la structure"), validators=[DataRequired(_l("Donnez le nom de la structure.")), Length(max=120)]
    )
    description = TextAreaField(_l("Description"), validators=[Optional(), Length(max=2000)])


class ImportForm(FlaskForm):
    file = FileField(_l("Fichier CSV"), validators=[FileRequired(_l("Choisissez un fichier CSV."))])


class DirectoryProfileForm(FlaskForm):
    """My card in the directories of my spaces, and who sees each part of it."""

    phone = StringField(_l("Téléphone"), validators=[Optional(), Length(max=40)])
    presentation = TextAreaField(_l("Quelques mots sur vous"), validators=[Optional(), Length(max=2000)])
    privacy_phone = SelectField(_l("Qui voit mon téléphone"), choices=AUDIENCE_CHOICES)
    privacy_email = SelectField(_l("Qui voit mon adresse e-mail"), choices=AUDIENCE_CHOICES)
    privacy_organisation = SelectField(_l("Qui voit ma structure"), choices=AUDIENCE_CHOICES)
    privacy_function = SelectField(_l("Qui voit ma fonction"), choices=AUDIENCE_CHOICES)
    privacy_presentation = SelectField(_l("Qui voit ma présentation"), choices=AUDIENCE_CHOICES)
    avatar = FileField(_l("Ma photo (facultative)"))
    remove_avatar = BooleanField(_l("Retirer ma photo"))
