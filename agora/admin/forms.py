"""Hosting admin forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, IntegerField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from agora.spaces.forms import ROLE_CHOICES, CreateAccountForm


class SpaceCreateForm(FlaskForm):
    name = StringField(_l("Nom de l'espace"), validators=[DataRequired(_l("Donnez un nom.")), Length(max=120)])
    slug = StringField(
        _l("Adresse courte (dans /s/…)"),
        validators=[DataRequired(_l("Choisissez une adresse courte.")), Length(max=40)],
    )
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    quota_mb = IntegerField(
        _l("Quota de stockage (Mo)"),
        default=1024,
        validators=[InputRequired(_l("Indiquez un quota.")), NumberRange(1, 10_000_000)],
    )
    admin = StringField(_l("Identifiant du premier administrateur"), validators=[Optional(), Length(max=40)])


class SpaceEditForm(FlaskForm):
    name = StringField(_l("Nom de l'espace"), validators=[DataRequired(_l("Donnez un nom.")), Length(max=120)])
    quota_mb = IntegerField(
        _l("Quota de stockage (Mo)"), validators=[InputRequired(_l("Indiquez un quota.")), NumberRange(1, 10_000_000)]
    )


class AppointForm(FlaskForm):
    username = StringField(
        _l("Identifiant"), validators=[DataRequired(_l("Saisissez un identifiant.")), Length(max=40)]
    )
    role = SelectField(_l("Rôle"), choices=ROLE_CHOICES, default="admin")


class DeleteSpaceForm(FlaskForm):
    confirmation = StringField(
        _l("Recopiez l'adresse courte de l'espace"), validators=[DataRequired(_l("Recopiez l'adresse courte."))]
    )


class ConsoleAccountForm(CreateAccountForm):
    """The hosting admin creates an account, optionally a hosting admin or a member of one space;
    the person then chooses a password with a setup link."""

    site_admin = BooleanField(_l("Administrateur du serveur (accès à cette console)"))
    space = SelectField(_l("Ajouter à l'espace"), coerce=int, default=0)

    def __init__(self, spaces, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.space.choices = [(0, _l("Aucun espace pour l'instant"))] + [(s.id, s.name) for s in spaces]
