"""Form helpers shared by the features."""
from __future__ import annotations

from flask_wtf import FlaskForm

from agora.core.services import ServiceError


def apply_service_error(form: FlaskForm, exc: ServiceError) -> None:
    """Show a service's refusal next to the field it names, or above the form."""
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = list(field.errors) + [str(exc.message)]
    else:
        form.form_errors.append(str(exc.message))
