"""Account forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, EmailField, PasswordField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, EqualTo, Length, Optional

from agora.core.timezones import TimezoneField


class LoginForm(FlaskForm):
    username = StringField(
        _l("Identifiant"), validators=[DataRequired(_l("Saisissez votre identifiant.")), Length(max=100)]
    )
    password = PasswordField(
        _l("Mot de passe"), validators=[DataRequired(_l("Saisissez votre mot de passe.")), Length(max=1000)]
    )
    remember = BooleanField(_l("Rester connecté sur cet appareil"))


class NewPasswordForm(FlaskForm):
    password = PasswordField(
        _l("Nouveau mot de passe"),
        validators=[DataRequired(_l("Choisissez un mot de passe.")), Length(max=1000)],
    )
    confirm = PasswordField(
        _l("Le même mot de passe, une deuxième fois"),
        validators=[
            DataRequired(_l("Recopiez le mot de passe.")),
            EqualTo("password", _l("Les deux mots de passe sont différents.")),
        ],
    )


class ChangePasswordForm(NewPasswordForm):
    current = PasswordField(
        _l("Mot de passe actuel"), validators=[DataRequired(_l("Saisissez votre mot de passe actuel."))]
    )


class ProfileForm(FlaskForm):
    display_name = StringField(
        _l("Nom affiché"), validators=[DataRequired(_l("Indiquez le nom que les autres verront.")), Length(max=80)]
    )
    email = EmailField(_l("Adresse e-mail (facultative)"), validators=[Optional(), Length(max=254)])
    language = SelectField(_l("Langue"), choices=[SelectChoice("fr", "Français"), SelectChoice("en", "English")])
    timezone = TimezoneField(_l("Fuseau horaire"))
    tasks_in_feed = BooleanField(_l("Mettre les échéances de mes tâches dans mon abonnement « tous mes espaces »"))
    simple_mode = BooleanField(_l("Mode simple : texte plus grand, une icône avec chaque mot, une seule colonne"))


class ForgotPasswordForm(FlaskForm):
    email = EmailField(
        _l("Adresse e-mail du compte"), validators=[DataRequired(_l("Saisissez une adresse e-mail.")), Length(max=254)]
    )


class SignupForm(FlaskForm):
    """Account creation from an invitation: no e-mail needed."""

    username = StringField(
        _l("Identifiant (pour vous connecter)"),
        validators=[DataRequired(_l("Choisissez un identifiant.")), Length(max=40)],
    )
    display_name = StringField(
        _l("Votre nom, tel que les autres le verront"),
        validators=[DataRequired(_l("Indiquez votre nom.")), Length(max=80)],
    )
    email = EmailField(_l("Adresse e-mail (facultative)"), validators=[Optional(), Length(max=254)])
    password = PasswordField(
        _l("Mot de passe"), validators=[DataRequired(_l("Choisissez un mot de passe.")), Length(max=1000)]
    )
    confirm = PasswordField(
        _l("Le même mot de passe, une deuxième fois"),
        validators=[
            DataRequired(_l("Recopiez le mot de passe.")),
            EqualTo("password", _l("Les deux mots de passe sont différents.")),
        ],
    )
