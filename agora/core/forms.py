"""Form helpers shared by the features."""

from __future__ import annotations

import base64
import binascii

from flask import abort, flash, redirect, request
from flask_wtf import FlaskForm
from wtforms.validators import ValidationError

from agora.core.services import ServiceError
from agora.core.time import DATE_RANGE_MESSAGE, is_supported
from agora.extensions import db


def supported_date(form, field) -> None:
    """WTForms validator for a date field: a date within the years Agora computes with."""
    if field.data is not None and not is_supported(field.data):
        raise ValidationError(str(DATE_RANGE_MESSAGE))


def apply_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal next to the field it names, or above the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(exc.message)]
    else:
        form.form_errors.append(str(exc.message))


def save_form(form: FlaskForm, action, *, message: str, done, render):
    """The shape of a form page: on a valid POST, run action(), commit once, flash, redirect.

    action() may raise ServiceError: nothing is kept and the refusal shows next to its field,
    with the service's status. done(result) gives the address to go to; render() the page.
    Returns a response, or (page, status).
    """
    status = 200
    if form.validate_on_submit():
        try:
            result = action()
        except ServiceError as exc:
            db.session.rollback()
            apply_service_error(form, exc)
            status = exc.status
        else:
            db.session.commit()
            flash(message, "success")
            return redirect(done(result))
    elif request.method == "POST":
        status = 400
    return render(), status


def preview_token(raw: bytes) -> str:
    """Carry an uploaded file from its preview page to the confirmation, inside the form."""
    return base64.b64encode(raw).decode("ascii")


def previewed_file() -> bytes:
    """The file a preview page sent back with its confirmation; 400 when it was tampered with."""
    try:
        return base64.b64decode(request.form.get("data", ""), validate=True)
    except (binascii.Error, ValueError):
        abort(400)
