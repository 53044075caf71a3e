"""Member directory services: privacy, organisations, cards, vCard and CSV, import, avatars.

Privacy is decided in one place, `visible_card`: the directory, profile pages and exports all
build what they show from it, so no page can show a field its owner hid.
"""

from __future__ import annotations

import csv
import io
import re
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select

from agora.auth import services as auth_services
from agora.auth.models import User
from agora.core.events import after_commit
from agora.core.services import ServiceError, one_line, spreadsheet_cell
from agora.extensions import db
from agora.members.models import Organisation
from agora.spaces import services as space_services
from agora.spaces.models import ROLES, Membership, Space

PRIVATE_FIELDS = ("phone", "email", "organisation", "function", "presentation")
AUDIENCES = ("members", "admins", "nobody")
#: E-mail and phone stay with the space's admins until the person says otherwise.
DEFAULT_PRIVACY = {
    "phone": "admins",
    "email": "admins",
    "organisation": "members",
    "function": "members",
    "presentation": "members",
}
PHONE_RE = re.compile(r"^[0-9+().\-\s]{6,40}$")
AVATAR_MAX_BYTES = 5 * 1024 * 1024
AVATAR_SIZE = 256
IMPORT_MAX_ROWS = 500
IMPORT_COLUMNS = ("display_name", "email", "organisation", "function", "role")


def privacy_of(user: User) -> dict[str, str]:
    """Return the person's audience for each private field, defaults filled in."""
    chosen = user.privacy or {}
    return {f: chosen.get(f) if chosen.get(f) in AUDIENCES else DEFAULT_PRIVACY[f] for f in PRIVATE_FIELDS}


def can_see(audience: str, *, viewer_role: str | None, is_self: bool) -> bool:
    """True when a viewer with that role in the space may see a field shown to `audience`."""
    if is_self:
        return True
    if audience == "members":
        return viewer_role is not None
    if audience == "admins":
        return viewer_role == "admin"
    return False


@dataclass
class Card:
    """What one viewer may see of one member in one space."""

    membership: Membership
    user: User
    role: str
    member_since: datetime
    fields: dict[str, str] = field(default_factory=dict)

    @property
    def initials(self) -> str:
        parts = [p for p in re.split(r"[\s.\-_]+", self.user.display_name) if p]
        return "".join(p[0] for p in parts[:2]).upper() or "?"

    @property
    def hue(self) -> int:
        """A stable colour per person for the initials badge."""
        return (self.user.id * 47) % 360


def visible_card(membership: Membership, viewer: User, viewer_role: str | None) -> Card:
    """Return the card of membership's person as viewer (with viewer_role in the space) may see it."""
    person = membership.user
    audiences = privacy_of(person)
    is_self = viewer.id == person.id
    values = {
        "phone": person.phone or "",
        "email": person.email or "",
        "organisation": membership.organisation.name if membership.organisation else "",
        "function": membership.function or "",
        "presentation": person.presentation or "",
    }
    shown = {f: v for f, v in values.items() if v and can_see(audiences[f], viewer_role=viewer_role, is_self=is_self)}
    return Card(
        membership=membership, user=person, role=membership.role, member_since=membership.created_at, fields=shown
    )


def update_profile_details(user: User, *, phone: str, presentation: str, privacy: dict[str, str]) -> None:
    """Change the person's directory details and privacy. Raises ServiceError for a bad value."""
    phone = one_line(phone)
    if phone and not PHONE_RE.match(phone):
        raise ServiceError(_l("Ce numéro de téléphone n'est pas valide."), field="phone")
    for name, audience in privacy.items():
        if name not in PRIVATE_FIELDS or audience not in AUDIENCES:
            raise ServiceError(_l("Ce choix de confidentialité n'existe pas."), field=f"privacy_{name}")
    user.phone = phone or None
    user.presentation = (presentation or "").strip()[:2000]
    user.privacy = {**privacy_of(user), **privacy}
    for membership in user.memberships:  # what every member may see of the person changes in each space
        after_commit("members.member", membership.id, membership.space_id, "updated")


# Organisations ----------------------------------------------------------------------------


def list_organisations(space: Space) -> list[Organisation]:
    return list(
        db.session.scalars(select(Organisation).where(Organisation.space_id == space.id).order_by(Organisation.name))
    )


def get_organisation(space: Space, organisation_id: int | None) -> Organisation | None:
    """Return the organisation with that id in this space only."""
    if not organisation_id:
        return None
    return db.session.scalar(
        select(Organisation).where(Organisation.id == organisation_id, Organisation.space_id == space.id)
    )


def find_organisation(space: Space, name: str) -> Organisation | None:
    return db.session.scalar(
        select(Organisation).where(Organisation.space_id == space.id, func.lower(Organisation.name) == name.lower())
    )


def save_organisation(space: Space, organisation: Organisation | None, *, name: str, description: str) -> Organisation:
    """Create (None) or change an organisation. Raises ServiceError for an empty or taken name."""
    name = one_line(name)[:120]
    if not name:
        raise ServiceError(_l("Donnez le nom de la structure."), field="name")
    taken = find_organisation(space, name)
    if taken is not None and taken is not organisation:
        raise ServiceError(_l("Cette structure existe déjà dans l'espace."), field="name", status=409)
    if organisation is None:
        organisation = Organisation(space_id=space.id)
        db.session.add(organisation)
    renamed = organisation.id is not None and organisation.name != name
    organisation.name, organisation.description = name, (description or "").strip()[:2000]
    db.session.flush()
    if renamed:
        _announce_members_of(space, organisation)
    return organisation


def delete_organisation(space: Space, organisation: Organisation) -> None:
    """Remove an organisation of this space; its members stay, without one (their search entries follow)."""
    _announce_members_of(space, organisation)
    db.session.delete(organisation)
    db.session.flush()


def _announce_members_of(space: Space, organisation: Organisation) -> None:
    """The organisation's name is part of each of its members' entries in the directory search."""
    for membership_id in db.session.scalars(
        select(Membership.id).where(Membership.space_id == space.id, Membership.organisation_id == organisation.id)
    ):
        after_commit("members.member", membership_id, space.id, "updated")


def set_membership_details(space: Space, membership: Membership, *, organisation_id: int | None, function: str) -> None:
    """Set the organisation (of this space only) and function of a member."""
    organisation = get_organisation(space, organisation_id) if organisation_id else None
    if organisation_id and organisation is None:
        raise ServiceError(_l("Cette structure n'existe pas dans l'espace."), field="organisation")
    membership.organisation_id = organisation.id if organisation else None
    membership.function = one_line(function)[:120]
    after_commit("members.member", membership.id, space.id, "updated")


# Exports ----------------------------------------------------------------------------------


#: Every character some reader takes for the end of a line (str.splitlines' list: CR, LF, VT, FF,
#: FS, GS, RS, NEL, LS, PS), CRLF first so it becomes one break. Left raw, any of them would let a
#: value end its card and start a forged one.
_LINE_BREAKS = re.compile("\r\n|[\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1b\x1f\x7f]")


def _vcard_escape(value: str) -> str:
    """A property value (RFC 6350 3.4): backslash, comma and semicolon escaped, every line break as \\n."""
    value = _CONTROLS.sub("", value).replace("\\", "\\\\").replace(",", "\\,").replace(";", "\\;")
    return _LINE_BREAKS.sub("\\\\n", value)


def _fold(line: str) -> str:
    """Fold a content line at 75 octets without splitting a UTF-8 character (RFC 6350 3.2)."""
    out, current = [], b""
    for char in line:
        encoded = char.encode("utf-8")
        limit = 75 if not out else 74
        if len(current) + len(encoded) > limit:
            out.append(current.decode("utf-8"))
            current = b""
        current += encoded
    out.append(current.decode("utf-8"))
    return "\r\n ".join(out)


def vcard(card: Card) -> str:
    """Return one vCard 4.0 (RFC 6350) with only the fields the viewer may see."""
    name = card.user.display_name
    parts = name.rsplit(" ", 1)
    family, given = (parts[1], parts[0]) if len(parts) == 2 else (name, "")
    lines = [
        "BEGIN:VCARD",
        "VERSION:4.0",
        f"FN:{_vcard_escape(name)}",
        f"N:{_vcard_escape(family)};{_vcard_escape(given)};;;",
        f"UID:urn:agora:user:{card.user.id}",
    ]
    f = card.fields
    if "email" in f:
        lines.append(f"EMAIL:{_vcard_escape(f['email'])}")
    if "phone" in f:
        lines.append(f"TEL;VALUE=uri:tel:{re.sub(r'[^0-9+]', '', f['phone'])}")
    if "organisation" in f:
        lines.append(f"ORG:{_vcard_escape(f['organisation'])}")
    if "function" in f:
        lines.append(f"TITLE:{_vcard_escape(f['function'])}")
    if "presentation" in f:
        lines.append(f"NOTE:{_vcard_escape(f['presentation'])}")
    lines.append("END:VCARD")
    return "".join(_fold(line) + "\r\n" for line in lines)


CSV_HEADER = ("display_name", "username", "role", "member_since", "organisation", "function", "email", "phone")


def directory_csv(cards: list[Card]) -> str:
    """Return the directory as CSV (UTF-8 with BOM so spreadsheet programs read the accents)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_HEADER)
    for card in cards:
        writer.writerow(
            [
                spreadsheet_cell(str(value))
                for value in (
                    card.user.display_name,
                    card.user.username,
                    card.role,
                    card.member_since.date().isoformat(),
                    card.fields.get("organisation", ""),
                    card.fields.get("function", ""),
                    card.fields.get("email", ""),
                    card.fields.get("phone", ""),
                )
            ]
        )
    return "\ufeff" + buffer.getvalue()


# Import -----------------------------------------------------------------------------------


@dataclass
class ImportRow:
    line: int
    display_name: str
    email: str | None
    organisation: str
    function: str
    role: str
    action: str = ""  #: "create" (no e-mail: an account and its setup sheet), "invite" (by e-mail) or "error"
    error: str = ""


@dataclass
class ImportResult:
    """What an import did: accounts made (with their setup link) and invitations mailed."""

    created: list[tuple[User, str]] = field(default_factory=list)
    invited: list[ImportRow] = field(default_factory=list)


def parse_import(space: Space, raw: bytes) -> list[ImportRow]:
    """Read a CSV of people and say what would happen to each row; writes nothing.

    No row is matched with an account: what the preview says depends on the file alone, so it
    tells the importer nothing about who has an account. Raises ServiceError for a file that
    cannot be read as a whole (encoding, columns, size).
    """
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ServiceError(
            _l("Le fichier n'est pas en UTF-8 : enregistrez-le en « CSV UTF-8 » puis réessayez."), field="file"
        ) from None
    sample = text[:4096]
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text, newline=""), dialect=dialect)
    try:
        return _read_rows(reader)
    except csv.Error as exc:
        raise ServiceError(_l("Le fichier CSV est mal formé : %(why)s.", why=str(exc)), field="file") from None


def _read_rows(reader: csv.DictReader) -> list[ImportRow]:
    columns = [c.strip().lower() for c in (reader.fieldnames or [])]
    if "display_name" not in columns:
        raise ServiceError(
            _l("Colonnes attendues : %(cols)s (au moins display_name).", cols=", ".join(IMPORT_COLUMNS)), field="file"
        )
    reader.fieldnames = columns
    rows: list[ImportRow] = []
    seen_names: set[str] = set()
    seen_emails: set[str] = set()
    for number, record in enumerate(reader, start=2):
        if len(rows) >= IMPORT_MAX_ROWS:
            raise ServiceError(_l("Le fichier a plus de %(n)s lignes : découpez-le.", n=IMPORT_MAX_ROWS), field="file")
        values = {k: one_line(v if isinstance(v, str) else "") for k, v in record.items() if k}
        if not any(values.values()):
            continue
        row = ImportRow(
            line=number,
            display_name=values.get("display_name", "")[:80],
            email=None,
            organisation=values.get("organisation", "")[:120],
            function=values.get("function", "")[:120],
            role=(values.get("role") or "member").lower(),
        )
        rows.append(row)
        try:
            row.email = auth_services.normalise_email(values.get("email"))
        except ServiceError as exc:
            row.action, row.error = "error", str(exc.message)
            continue
        if not row.display_name:
            row.action, row.error = "error", str(_l("le nom est vide"))
        elif row.role not in ROLES:
            row.action, row.error = "error", str(_l("rôle inconnu « %(role)s »", role=row.role))
        elif row.display_name.lower() in seen_names or (row.email and row.email in seen_emails):
            row.action, row.error = "error", str(_l("ligne en double"))
        else:
            seen_names.add(row.display_name.lower())
            if row.email:
                seen_emails.add(row.email)
            row.action = "invite" if row.email else "create"
    if not rows:
        raise ServiceError(_l("Le fichier ne contient aucune personne."), field="file")
    return rows


def _username_for(display_name: str) -> str:
    base = re.sub(r"[^a-z0-9]+", ".", _ascii(display_name).lower()).strip(".")[:30] or "membre"
    base = base if len(base) >= 3 else f"{base}.membre"
    candidate, n = base, 1
    while auth_services.get_user_by_username(candidate) is not None:
        n += 1
        candidate = f"{base}{n}"
    return candidate


def _ascii(text: str) -> str:
    import unicodedata

    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")


def _organisation_for(space: Space, name: str) -> Organisation | None:
    if not name:
        return None
    return find_organisation(space, name) or save_organisation(space, None, name=name, description="")


def apply_import(space: Space, rows: list[ImportRow], *, actor: User, setup_url_for, join_url_for) -> ImportResult:
    """Invite or create every row; all or nothing (the caller commits or rolls back).

    A row with an e-mail gets an invitation mailed to that address: the person, with their
    account or a new one, accepts or declines it, and nobody joins the space without saying yes.
    A row without one (a person helped by a mediator) gets an account in the space and a setup
    link to print. Raises ServiceError when a row is in error.
    """
    if any(r.action == "error" for r in rows):
        raise ServiceError(_l("Corrigez les lignes en erreur avant d'importer."), field="file")
    result = ImportResult()
    site = current_app.config["SITE_NAME"]
    for row in rows:
        organisation = _organisation_for(space, row.organisation)
        if row.action == "invite":
            _invitation, raw = space_services.invite_address(
                space,
                email=row.email,
                name=row.display_name,
                role=row.role,
                organisation_id=organisation.id if organisation else None,
                function=row.function,
                actor=actor,
            )
            auth_services.queue_mail(
                row.email,
                str(_l("Invitation à rejoindre « %(space)s »", space=space.name)),
                str(
                    _l(
                        "Bonjour %(name)s,\n\n%(actor)s vous invite à rejoindre l'espace « %(space)s » sur %(site)s.\n\n"
                        "Pour accepter (avec votre compte, ou en créant un compte) ou pour refuser, ouvrez ce lien, "
                        "valable %(days)s jours :\n\n%(url)s\n\nSans réponse de votre part, vous ne serez pas ajouté à "
                        "l'espace.",
                        name=row.display_name,
                        actor=actor.display_name,
                        space=space.name,
                        site=site,
                        days=space_services.ADDRESSED_INVITATION_DAYS,
                        url=join_url_for(raw),
                    )
                ),
            )
            result.invited.append(row)
            continue
        user = auth_services.create_user(_username_for(row.display_name), None, display_name=row.display_name)
        auth_services.audit("account.created", actor, space=space, target=user.username, details={"via": "import"})
        membership = space_services.add_member(space, user, row.role, actor=actor)
        membership.organisation_id = organisation.id if organisation else None
        membership.function = row.function
        result.created.append((user, setup_url_for(auth_services.issue_token(user, "setup"))))
    auth_services.audit("members.imported", actor, space=space, details={"rows": len(rows)})
    return result


# Avatars ----------------------------------------------------------------------------------


def avatars_dir() -> Path:
    return Path(current_app.instance_path) / "files" / "avatars"


def set_avatar(user: User, data: bytes) -> Path | None:
    """Store a square JPEG made from an uploaded photo; return the old file to remove after commit.

    Raises ServiceError when the upload is too large or is not an image Pillow can read.
    """
    from PIL import ImageOps, UnidentifiedImageError

    from agora.core.images import ImageTooLarge, open_bounded, reduced, too_large_error

    if len(data) > AVATAR_MAX_BYTES:
        raise ServiceError(_l("La photo dépasse 5 Mo : choisissez-en une plus légère."), field="avatar", status=413)
    unreadable = ServiceError(
        _l("Ce fichier n'est pas une image lisible : choisissez une photo (JPEG, PNG, GIF ou WebP)."),
        field="avatar",
        status=415,
    )
    try:
        with open_bounded(io.BytesIO(data)) as probe:
            probe.verify()
        with open_bounded(io.BytesIO(data)) as source:
            if source.format not in ("JPEG", "PNG", "GIF", "WEBP"):
                raise ServiceError(_l("Choisissez une photo (JPEG, PNG, GIF ou WebP)."), field="avatar", status=415)
            image = reduced(source, (AVATAR_SIZE * 2, AVATAR_SIZE * 2)).convert("RGB")
        image = ImageOps.fit(image, (AVATAR_SIZE, AVATAR_SIZE))
    except ImageTooLarge as exc:
        raise too_large_error(exc, "avatar") from None
    except (UnidentifiedImageError, OSError, ValueError):
        raise unreadable from None
    folder = avatars_dir()
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{user.id}-{secrets.token_hex(8)}.jpg"
    image.save(folder / name, "JPEG", quality=85)
    old = folder / user.avatar if user.avatar else None
    user.avatar = name
    return old


def remove_avatar(user: User) -> Path | None:
    old = avatars_dir() / user.avatar if user.avatar else None
    user.avatar = None
    return old
