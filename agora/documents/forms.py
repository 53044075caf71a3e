"""Document forms."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired, MultipleFileField
from wtforms import RadioField, SelectChoice, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from agora.core.urls import to_id


def attachments_field():
    """The optional "attach files" field of the forum, agenda and task forms."""
    return MultipleFileField(_l("Joindre des fichiers (facultatif)"))


def voice_field():
    """The optional voice message of a form (templates/documents/_voice_fields.html).

    Without JavaScript, `capture` opens a phone's sound recorder; with it, the page's « Parler »
    recorder puts its recording here. Attach it with `attach_form_files(..., only="sound")`."""
    return FileField(_l("Message vocal (facultatif)"), render_kw={"accept": "audio/*", "capture": True})


def photos_field():
    """Optional photos, from a phone's camera; attach with `images=True, only="image"`."""
    return MultipleFileField(_l("Photos (facultatif)"), render_kw={"accept": "image/*", "capture": "environment"})


def has_file(data) -> bool:
    """Whether a file field (one file or several) brought at least one named file."""
    files = data if isinstance(data, list) else [data]
    return any(getattr(f, "filename", "") for f in files)


def words_or_voice(message):
    """A validator of a message's text, which may stay empty when the form's `voice` field (or its
    `attachments`) brings a file: whether it is sound is known once stored (see
    agora.documents.services.attach_message_files, which refuses with the same `message`)."""

    def check(form, field):
        sent = [form[name].data for name in ("voice", "attachments") if name in form]
        if not (field.data or "").strip() and not any(has_file(data) for data in sent):
            raise ValidationError(message)

    return check


class UploadForm(FlaskForm):
    files = MultipleFileField(
        _l("Fichiers à ajouter"), validators=[FileRequired(_l("Choisissez au moins un fichier."))]
    )
    on_conflict = RadioField(
        _l("Si un fichier du même nom existe déjà ici"),
        choices=[
            SelectChoice("version", _l("en faire une nouvelle version")),
            SelectChoice("rename", _l("garder les deux (le nouveau est renommé)")),
        ],
        default="version",
    )
    note = StringField(_l("Note (facultative)"), validators=[Optional(), Length(max=300)])


class VersionForm(FlaskForm):
    file = FileField(_l("Nouvelle version du fichier"), validators=[FileRequired(_l("Choisissez un fichier."))])
    note = StringField(_l("Ce qui change (facultatif)"), validators=[Optional(), Length(max=300)])


class NameForm(FlaskForm):
    name = StringField(_l("Nom"), validators=[DataRequired(_l("Donnez un nom.")), Length(max=255)])


class MoveForm(FlaskForm):
    target = SelectField(_l("Déplacer vers"), coerce=to_id, validate_choice=False)
