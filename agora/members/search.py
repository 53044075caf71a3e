"""What the directory gives the search index: people, as every member of the space may see them."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from agora.core.registry import Entry, entry_key
from agora.extensions import db
from agora.spaces.models import Membership


def member_entry(membership_id: int, **_options) -> Entry | None:
    """A person as every member of the space may see them: nothing kept for admins or nobody."""
    from agora.members.services import can_see, privacy_of

    membership = db.session.scalar(
        select(Membership)
        .options(selectinload(Membership.user), selectinload(Membership.organisation))
        .where(Membership.id == membership_id)
    )
    if membership is None or membership.user.is_disabled:
        return None
    person, audiences = membership.user, privacy_of(membership.user)
    values = {
        "organisation": membership.organisation.name if membership.organisation else "",
        "function": membership.function or "",
        "presentation": person.presentation or "",
        "phone": person.phone or "",
        "email": person.email or "",
    }
    shown = [v for f, v in values.items() if v and can_see(audiences[f], viewer_role="reader", is_self=False)]
    return Entry(
        entry_key("members.member", membership.id),
        "members.member",
        "members",
        membership.space_id,
        membership.id,
        person.display_name,
        "\n".join([person.username, *shown]),
        membership.created_at,
    )


def member_url(slug: str, object_id: int, entry: Entry) -> str:
    user_id = db.session.scalar(
        select(Membership.user_id).where(Membership.id == object_id, Membership.space_id == entry.space_id)
    )
    return url_for("members.profile", slug=slug, user_id=user_id)
