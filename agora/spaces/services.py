"""Space services: creation, members and roles, invitations, news, activity, archive and delete.

Each takes the space first when it acts inside one, flushes, and never commits.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_ngettext
from sqlalchemy import bindparam, delete, func, or_, select, update

from agora.auth.models import User
from agora.auth.services import audit, hash_token, record_failure, throttle_wait
from agora.core import markers
from agora.core.events import after_commit, member_left, notification_wanted
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.extensions import db
from agora.spaces.models import (
    MODULES,
    RESERVED_SLUGS,
    ROLES,
    SPACE_COLOURS,
    Activity,
    Invitation,
    Membership,
    NewsItem,
    Space,
)
from agora.spaces.tenancy import membership_in

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
#: A category's colour (forum, agenda); a space's own comes from SPACE_COLOURS.
COLOUR_RE = re.compile(r"^#[0-9a-fA-F]{6}$")
MAX_INVITATION_DAYS = 365
MAX_INVITATION_USES = 1000


def check_role(role: str) -> str:
    """Return role when it is one of the three; raise ServiceError otherwise."""
    if role not in ROLES:
        raise ServiceError(_l("Ce rôle n'existe pas : choisissez administrateur, membre ou lecteur."), field="role")
    return role


#: Asked on every page of a space: built once (see auth.services._LIVE_LOGIN).
_BY_SLUG = select(Space).where(Space.slug == bindparam("slug"))


def get_space_by_slug(slug: str) -> Space | None:
    return db.session.scalar(_BY_SLUG, {"slug": slug.lower()})


def suggest_slug(wanted: str) -> str | None:
    """A free short address close to what was typed: « Érables » gives « erables » (« erables-2 »
    when taken). None when nothing usable is left of it."""
    letters = unicodedata.normalize("NFKD", wanted).encode("ascii", "ignore").decode().lower()
    base = re.sub(r"[^a-z0-9]+", "-", letters).strip("-")[:36]
    if not base:
        return None
    taken = set(db.session.scalars(select(Space.slug).where(Space.slug.like(f"{base}%")))) | RESERVED_SLUGS
    return next(
        (c for c in (base, *(f"{base}-{n}" for n in range(2, 100))) if c not in taken and SLUG_RE.match(c)), None
    )


def create_space(
    slug: str, name: str, *, actor: User | None, admin: User | None = None, quota_mb: int = 1024, description: str = ""
) -> Space:
    """Create a space, optionally with its first admin. Raises ServiceError for a bad or taken slug."""
    slug = slug.strip().lower()
    problem, status = None, 400
    if not SLUG_RE.match(slug):
        problem = _l(
            "L'adresse courte doit faire 1 à 40 caractères : lettres minuscules sans accent, chiffres et tirets."
        )
    elif slug in RESERVED_SLUGS:
        problem = _l("Cette adresse courte est réservée : choisissez-en une autre.")
    elif get_space_by_slug(slug) is not None:
        problem, status = _l("Un espace utilise déjà cette adresse courte."), 409
    if problem:
        suggestion = suggest_slug(slug)
        if suggestion:
            problem = _l("%(problem)s Essayez « %(suggestion)s ».", problem=problem, suggestion=suggestion)
        raise ServiceError(problem, field="slug", status=status)
    name = one_line(name)
    if not name:
        raise ServiceError(_l("Donnez un nom à l'espace."), field="name")
    if quota_mb < 0:
        raise ServiceError(_l("Le quota ne peut pas être négatif."), field="quota_mb")
    space = Space(
        slug=slug,
        name=name[:120],
        description=description,
        quota_mb=quota_mb,
        modules=list(MODULES),
        last_activity_at=utcnow(),
    )
    db.session.add(space)
    db.session.flush()
    audit("space.created", actor, space=space, target=space.name)
    if admin is not None:
        add_member(space, admin, "admin", actor=actor)
    return space


def update_space(space: Space, *, name: str, description: str, colour: str, modules: list[str]) -> None:
    """Change the space's settings. Raises ServiceError for an empty name, unknown module, or a
    colour that is neither one of SPACE_COLOURS nor the space's own (kept from before the list)."""
    name = one_line(name)
    if not name:
        raise ServiceError(_l("Donnez un nom à l'espace."), field="name")
    colour = colour.lower()
    if colour not in SPACE_COLOURS and colour != space.colour.lower():
        raise ServiceError(_l("Choisissez une des couleurs proposées."), field="colour")
    unknown = set(modules) - set(MODULES)
    if unknown:
        raise ServiceError(_l("Module inconnu."), field="modules")
    space.name = name[:120]
    space.description = description.strip()
    space.colour = colour
    space.modules = [m for m in MODULES if m in modules]


def add_member(space: Space, user: User, role: str, *, actor: User | None) -> Membership:
    """Give user a role in space (or change it when already a member) and return the membership."""
    check_role(role)
    membership = db.session.scalar(
        select(Membership).where(Membership.space_id == space.id, Membership.user_id == user.id)
    )
    if membership is not None:
        if membership.role != role:
            change_role(space, membership, role, actor=actor)
        return membership
    membership = Membership(space_id=space.id, user_id=user.id, role=role)
    db.session.add(membership)
    db.session.flush()
    user.__dict__.pop("_membership_cache", None)
    after_commit("members.member", membership.id, space.id, "created")
    record_activity(space, user, "joined", user.display_name)
    audit("member.added", actor, space=space, target=user.username, details={"role": role})
    return membership


def setup_link_receivers(space: Space, users: list[User]) -> set[int]:
    """Return the ids of those users a space admin may hand a new setup link (one query).

    An account nobody has set up yet; or a habitant without e-mail who forgot their password, as
    long as they are no site admin and admin of no space (a space admin must not take over an
    account with powers of its own). Someone with an address resets their password themselves.
    """
    candidates = {u.id for u in users if not u.is_site_admin and (u.password_hash is None or not u.email)}
    if not candidates:
        return set()
    admins = set(
        db.session.scalars(
            select(Membership.user_id).where(Membership.user_id.in_(candidates), Membership.role == "admin")
        )
    )
    return {u.id for u in users if u.id in candidates and (u.password_hash is None or u.id not in admins)}


def get_membership(space: Space, membership_id: int) -> Membership | None:
    """Return the membership with that id in this space only."""
    return db.session.scalar(select(Membership).where(Membership.id == membership_id, Membership.space_id == space.id))


def _admin_count(space: Space) -> int:
    return db.session.scalar(
        select(func.count()).select_from(Membership).where(Membership.space_id == space.id, Membership.role == "admin")
    )


def change_role(space: Space, membership: Membership, role: str, *, actor: User | None) -> None:
    """Change a member's role. Raises ServiceError when it would leave the space without an admin."""
    check_role(role)
    if membership.space_id != space.id:
        raise ServiceError(_l("Ce membre n'appartient pas à cet espace."), status=404)
    if membership.role == "admin" and role != "admin" and _admin_count(space) <= 1:
        raise ServiceError(_l("L'espace doit garder au moins un administrateur."), field="role", status=409)
    old = membership.role
    membership.role = role
    membership.user.__dict__.pop("_membership_cache", None)
    audit("member.role_changed", actor, space=space, target=membership.user.username, details={"from": old, "to": role})


def remove_member(space: Space, membership: Membership, *, actor: User | None) -> None:
    """Remove someone from the space. Raises ServiceError for the last admin."""
    if membership.space_id != space.id:
        raise ServiceError(_l("Ce membre n'appartient pas à cet espace."), status=404)
    if membership.role == "admin" and _admin_count(space) <= 1:
        raise ServiceError(_l("L'espace doit garder au moins un administrateur."), status=409)
    audit("member.removed", actor, space=space, target=membership.user.username)
    membership.user.__dict__.pop("_membership_cache", None)
    after_commit("members.member", membership.id, space.id, "deleted")
    member_left.send(space, user=membership.user)
    db.session.delete(membership)
    db.session.flush()


# Invitations ------------------------------------------------------------------------------


def create_invitation(
    space: Space, *, role: str, max_uses: int, days: int, label: str, actor: User
) -> tuple[Invitation, str]:
    """Create an invitation link; return it with its secret, which is shown only now."""
    check_role(role)
    if not 1 <= max_uses <= MAX_INVITATION_USES:
        raise ServiceError(
            _l("Le nombre d'utilisations doit aller de 1 à %(n)s.", n=MAX_INVITATION_USES), field="max_uses"
        )
    if not 1 <= days <= MAX_INVITATION_DAYS:
        raise ServiceError(
            _l("La durée de validité doit aller de 1 à %(n)s jours.", n=MAX_INVITATION_DAYS), field="days"
        )
    raw = secrets.token_urlsafe(24)
    invitation = Invitation(
        space_id=space.id,
        token_hash=hash_token(raw),
        role=role,
        max_uses=max_uses,
        expires_at=utcnow() + timedelta(days=days),
        label=one_line(label)[:120],
        created_by_id=actor.id,
    )
    db.session.add(invitation)
    db.session.flush()
    audit(
        "invitation.created",
        actor,
        space=space,
        target=label or None,
        details={"role": role, "max_uses": max_uses, "days": days},
    )
    return invitation, raw


#: How long an invitation mailed to an address stays open.
ADDRESSED_INVITATION_DAYS = 30


def invite_address(
    space: Space, *, email: str, name: str, role: str, organisation_id: int | None, function: str, actor: User
) -> tuple[Invitation, str]:
    """An invitation for one person, to be mailed to `email`: single use, with what they get on accepting.

    Returns it with its secret (for the mail). Nothing is looked up: whether an account holds that
    address stays unknown to the one inviting, and no account joins without opening the link."""
    invitation, raw = create_invitation(
        space, role=role, max_uses=1, days=ADDRESSED_INVITATION_DAYS, label=name, actor=actor
    )
    invitation.email, invitation.organisation_id, invitation.function = email, organisation_id, one_line(function)[:120]
    return invitation, raw


def decline_invitation(invitation: Invitation) -> None:
    """The person it was mailed to says no: the link stops working. Raises ServiceError (410) when no longer open."""
    if not invitation.is_usable():
        raise ServiceError(_l("Cette invitation n'est plus valable : demandez-en une nouvelle."), status=410)
    invitation.revoked_at = utcnow()
    audit("invitation.declined", None, space=invitation.space, target=invitation.label or None)


def find_invitation(raw: str) -> Invitation | None:
    """Return the invitation for that secret, usable or not, or None."""
    if not raw or len(raw) > 100:
        return None
    return db.session.scalar(select(Invitation).where(Invitation.token_hash == hash_token(raw)))


#: The short code's characters: no 0 and O, no 1, I and L, which people mix up on paper.
CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
CODE_LENGTH = 8
#: Wrong codes are counted as failed logins of this name (no username can hold a space or a « # »),
#: in counters of their own (CODE_SCOPE): an address that guesses too often waits, as for
#: passwords, without its people's logins being locked by a room's typos.
CODE_GUESSER = "# code d'invitation"
CODE_SCOPE = "code:"
_CODE_SEPARATORS = re.compile(r"[\s\-\u2010-\u2015\u2212._]+")


def normalise_code(typed: str | None) -> str | None:
    """Return the code as stored (capitals, without dashes or spaces), None when it cannot be one."""
    code = _CODE_SEPARATORS.sub("", (typed or "")[:100]).upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def format_code(code: str) -> str:
    """ABCDEFGH as people read and type it: ABCD-EFGH."""
    return f"{code[:4]}-{code[4:]}"


def invitation_code_hash(code: str) -> str:
    """Return the digest a normalised code is stored under: keyed with the server's secret, so
    that a copy of the database alone does not give the few codes back by trying them all."""
    key = hashlib.sha256(b"agora.invitation-code\x00" + current_app.config["SECRET_KEY"].encode("utf-8")).digest()
    return hmac.new(key, code.encode("ascii"), hashlib.sha256).hexdigest()


def add_invitation_code(invitation: Invitation) -> str:
    """Give an invitation a short code to type by hand and return it (ABCD-EFGH), shown only now."""
    while True:  # 31^8 codes: a second try is already rare
        code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
        digest = invitation_code_hash(code)
        if db.session.scalar(select(Invitation.id).where(Invitation.code_hash == digest)) is None:
            invitation.code_hash = digest
            db.session.flush()
            return format_code(code)


def find_invitation_by_code(typed: str | None, ip: str | None) -> Invitation:
    """Return the invitation whose short code was typed, usable or not (the join page says which).

    Raises ServiceError: 400 when what was typed cannot be a code; 429 while this address has
    guessed wrong too often; 404 when no invitation has that code, which counts as a guess. The
    code is looked up by its digest (as links are), so no comparison runs on the code itself.
    """
    code = normalise_code(typed)
    if code is None:
        raise ServiceError(
            _l(
                "Un code d'invitation a 8 lettres et chiffres, par exemple ABCD-EFGH "
                "(il n'y a jamais de 0, de O, de 1, de I ni de L)."
            ),
            field="code",
        )
    wait = throttle_wait(CODE_GUESSER, ip, scope=CODE_SCOPE)
    if wait:
        audit("invitation.code_throttled", None, ip=ip)
        raise ServiceError(
            lazy_ngettext(
                "Trop d'essais : patientez %(num)s minute avant de réessayer.",
                "Trop d'essais : patientez %(num)s minutes avant de réessayer.",
                wait,
            ),
            field="code",
            status=429,
        )
    invitation = db.session.scalar(select(Invitation).where(Invitation.code_hash == invitation_code_hash(code)))
    if invitation is None:
        record_failure(CODE_GUESSER, ip, scope=CODE_SCOPE)
        audit("invitation.code_refused", None, ip=ip)
        raise ServiceError(
            _l(
                "Ce code ne correspond à aucune invitation. Vérifiez-le, ou demandez-le de nouveau "
                "à la personne qui vous a invité."
            ),
            field="code",
            status=404,
        )
    return invitation


def accept_invitation(invitation: Invitation, user: User) -> Membership:
    """Make user a member with the invitation's role, spending one use.

    A person already in the space keeps their role and spends nothing. Raises ServiceError
    (410) when the invitation is revoked, expired or used up, or the space is archived.
    """
    space = invitation.space
    if not invitation.is_usable() or space.is_archived:
        raise ServiceError(_l("Cette invitation n'est plus valable : demandez-en une nouvelle."), status=410)
    existing = membership_in(user, space)
    if existing is not None:
        return existing
    # Spend the use atomically so two people joining at once cannot go past max_uses.
    spent = db.session.execute(
        update(Invitation)
        .where(Invitation.id == invitation.id, Invitation.uses < Invitation.max_uses)
        .values(uses=Invitation.uses + 1)
        .execution_options(synchronize_session=False)
    ).rowcount
    if not spent:
        raise ServiceError(_l("Cette invitation n'est plus valable : demandez-en une nouvelle."), status=410)
    db.session.refresh(invitation)
    membership = add_member(space, user, invitation.role, actor=user)
    membership.organisation_id = invitation.organisation_id
    membership.function = invitation.function or ""
    audit("invitation.used", user, space=space, target=invitation.label or None, details={"role": invitation.role})
    return membership


def get_invitation(space: Space, invitation_id: int) -> Invitation | None:
    """Return the invitation with that id in this space only."""
    return db.session.scalar(select(Invitation).where(Invitation.id == invitation_id, Invitation.space_id == space.id))


def revoke_invitation(space: Space, invitation: Invitation, *, actor: User) -> None:
    invitation.revoked_at = utcnow()
    audit("invitation.revoked", actor, space=space, target=invitation.label or None)


# News and activity ------------------------------------------------------------------------


def record_activity(space: Space, actor: User | None, verb: str, title: str, url: str | None = None) -> Activity:
    """Add a line to the space's "what's new" feed and mark the space active."""
    now = utcnow()
    activity = Activity(
        space_id=space.id, actor_id=actor.id if actor else None, verb=verb, title=title[:200], url=url, created_at=now
    )
    db.session.add(activity)
    space.last_activity_at = now
    return activity


def save_news(space: Space, news: NewsItem | None, *, title: str, body: str, is_pinned: bool, author: User) -> NewsItem:
    """Create (news None) or update a news item of this space and return it."""
    title = one_line(title)
    if not title:
        raise ServiceError(_l("Donnez un titre à l'actualité."), field="title")
    if news is None:
        news = NewsItem(
            space_id=space.id, author_id=author.id, title=title[:200], body=body.strip(), is_pinned=is_pinned
        )
        db.session.add(news)
        db.session.flush()
        record_activity(space, author, "news", news.title, f"/s/{space.slug}/#news-{news.id}")
        notification_wanted.send(
            space,
            kind="news",
            verb="news",
            recipients=None,
            actor=author,
            title=news.title,
            url=f"/s/{space.slug}/#news-{news.id}",
            group_key=f"news:{space.id}",
            excerpt=news.body,
        )
    else:
        news.title, news.body, news.is_pinned, news.updated_at = title[:200], body.strip(), is_pinned, utcnow()
    return news


def get_news(space: Space, news_id: int) -> NewsItem | None:
    return db.session.scalar(select(NewsItem).where(NewsItem.id == news_id, NewsItem.space_id == space.id))


def delete_news(space: Space, news: NewsItem) -> None:
    """Delete a news item of the space (found through `get_news`)."""
    db.session.delete(news)
    db.session.flush()


# The hosting admin's actions --------------------------------------------------------------


def archive_space(space: Space, *, actor: User) -> None:
    space.archived_at = utcnow()
    audit("space.archived", actor, space=space, target=space.name)


def restore_space(space: Space, *, actor: User) -> None:
    space.archived_at = None
    audit("space.restored", actor, space=space, target=space.name)


def space_files_dir(space: Space) -> Path:
    """Return the folder that holds this space's files inside the instance."""
    return Path(current_app.instance_path) / "files" / str(space.id)


def delete_space(space: Space, confirmation: str, *, actor: User) -> Path:
    """Delete the space's rows. Raises ServiceError unless confirmation is its slug.

    Returns the space's files folder, which the caller removes once the deletion is committed.
    """
    if confirmation.strip() != space.slug:
        raise ServiceError(_l("Recopiez exactement l'adresse courte de l'espace pour confirmer."), field="confirmation")
    audit("space.deleted", actor, space=space.slug, target=space.name)
    # Bulk deletes for rows the database would cascade anyway: SQLite and PostgreSQL agree.
    for model in (Activity, NewsItem, Invitation, Membership):
        db.session.execute(delete(model).where(model.space_id == space.id))
    files = space_files_dir(space)
    db.session.delete(space)
    db.session.flush()
    return files


def grant_self(space: Space, admin: User, role: str) -> Membership:
    """A hosting admin joins a space (to read it); always written to the audit log."""
    membership = add_member(space, admin, role, actor=admin)
    audit("admin.self_grant", admin, space=space, target=admin.username, details={"role": role})
    return membership


def previous_visit(membership: Membership) -> datetime | None:
    """When the person last opened the space's home: as written, or as noted by this process and
    not written yet (see agora.core.markers)."""
    noted = markers.noted("visit", membership.id)
    written = membership.last_visit_at
    return noted if noted is not None and (written is None or noted > written) else written


def mark_visit(membership: Membership, newest: datetime | None, now: datetime | None = None) -> datetime | None:
    """Record a visit; return when the previous one started (what's new is what came after).

    `newest` is when the space's latest activity happened (None: no activity yet). When the recorded
    visit already comes after it, moving the visit forward would change no count, so nothing is
    noted: a reload of the home page is a read only. Otherwise the visit is noted, and written
    shortly after with others (agora.core.markers), not by this request."""
    previous = previous_visit(membership)
    if previous is not None and (newest is None or newest <= previous):
        return previous
    markers.note("visit", membership.id, now or utcnow())
    return previous


@markers.writer("visit")
def _write_visits(visits: dict[int, datetime]) -> None:
    for membership_id, when in visits.items():
        db.session.execute(
            update(Membership)
            .where(
                Membership.id == membership_id,
                or_(Membership.last_visit_at.is_(None), Membership.last_visit_at < when),
            )
            .values(last_visit_at=when)
            .execution_options(synchronize_session=False)
        )
