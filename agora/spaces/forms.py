"""Space forms: news, settings, members, invitations, accounts made for someone."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    RadioField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from agora.spaces.models import SPACE_COLOURS

ROLE_CHOICES = [
    SelectChoice("member", _l("Membre (lit et écrit)")),
    SelectChoice("reader", _l("Lecteur (lit seulement)")),
    SelectChoice("admin", _l("Administrateur de l'espace")),
]


def module_choices() -> list[SelectChoice]:
    """The modules a space admin may switch on or off, as the registry lists them."""
    from agora.core import registry

    return [SelectChoice(m.name, m.label) for m in registry.modules() if m.switchable]


def colour_choices(current: str) -> list[SelectChoice]:
    """The colours of the list by name, and the space's current one when the list lacks it, so
    that saving the settings keeps it."""
    choices = [SelectChoice(value, name) for value, name in SPACE_COLOURS.items()]
    if current.lower() not in SPACE_COLOURS:
        choices.append(SelectChoice(current.lower(), _l("Couleur actuelle")))
    return choices


class NewsForm(FlaskForm):
    title = StringField(_l("Titre"), validators=[DataRequired(_l("Donnez un titre.")), Length(max=200)])
    body = TextAreaField(_l("Texte"), validators=[Length(max=20000)])
    is_pinned = BooleanField(_l("Épingler en haut de l'accueil"))


class SettingsForm(FlaskForm):
    name = StringField(_l("Nom de l'espace"), validators=[DataRequired(_l("Donnez un nom.")), Length(max=120)])
    description = TextAreaField(_l("Description"), validators=[Length(max=2000)])
    #: Its choices come from colour_choices(the space's colour).
    colour = RadioField(
        _l("Couleur"),
        filters=[lambda value: value.lower() if isinstance(value, str) else value],
        invalid_choice_message=_l("Choisissez une des couleurs proposées."),
    )
    modules = SelectMultipleField(
        _l("Modules actifs"),
        choices=module_choices,
        widget=ListWidget(prefix_label=False),
        option_widget=CheckboxInput(),
        validate_choice=True,
    )


class RoleForm(FlaskForm):
    role = SelectField(_l("Rôle"), choices=ROLE_CHOICES)


class InvitationForm(FlaskForm):
    label = StringField(_l("Pour qui ou pour quoi (note pour les administrateurs)"), validators=[Length(max=120)])
    role = SelectField(_l("Rôle donné"), choices=ROLE_CHOICES)
    max_uses = IntegerField(
        _l("Nombre de personnes qui peuvent l'utiliser"),
        default=1,
        validators=[InputRequired(_l("Indiquez un nombre.")), NumberRange(1, 1000, _l("Entre 1 et 1000."))],
    )
    days = IntegerField(
        _l("Valable pendant (jours)"),
        default=14,
        validators=[
            InputRequired(_l("Indiquez un nombre de jours.")),
            NumberRange(1, 365, _l("Entre 1 et 365 jours.")),
        ],
    )


class InvitationCodeForm(FlaskForm):
    """The short code of a printed invitation, typed by hand."""

    code = StringField(
        _l("Code d'invitation"),
        validators=[DataRequired(_l("Tapez le code écrit sur votre invitation.")), Length(max=40)],
    )


class CreateAccountForm(FlaskForm):
    """A mediator or space admin creates an account for someone, who then picks a password."""

    username = StringField(
        _l("Identifiant de la personne"), validators=[DataRequired(_l("Choisissez un identifiant.")), Length(max=40)]
    )
    display_name = StringField(
        _l("Nom affiché"), validators=[DataRequired(_l("Indiquez le nom de la personne.")), Length(max=80)]
    )
    email = EmailField(_l("Adresse e-mail (facultative)"), validators=[Optional(), Length(max=254)])
    role = SelectField(_l("Rôle dans l'espace"), choices=ROLE_CHOICES)
