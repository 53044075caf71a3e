"""Document services: folders, uploads and versions, trash, quota, attachments, consistency check.

Each takes the space first, looks objects up inside it only, flushes and never commits: the
caller commits; the commit (or a rollback) settles the files on disk (see storage.py).
"""

from __future__ import annotations

import re
import time
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from flask import current_app, url_for
from flask_babel import lazy_gettext as _l
from sqlalchemy import BigInteger, case, cast, delete, func, select, update
from sqlalchemy.orm import selectinload

from agora.auth.models import User
from agora.core.events import after_commit
from agora.core.pagination import Page
from agora.core.services import ServiceError, one_line
from agora.core.time import utcnow
from agora.documents import storage
from agora.documents.models import (
    TRASH_DAYS,
    Attachment,
    Document,
    DocumentVersion,
    Folder,
    FolderFollow,
)
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.services import record_activity

MB = 1024 * 1024
_UNSAFE = re.compile(r"[/\\]+")


# Names ------------------------------------------------------------------------------------


def clean_name(raw: str | None, *, field_name: str = "name", limit: int = 200) -> str:
    """A name safe to show and to put in a ZIP: one line (see one_line), no path, not only dots.

    Slashes become dashes; a name left empty or made only of dots is
    refused with a message for the field.
    """
    name = " ".join(_UNSAFE.sub("-", one_line(raw)).split()).strip("-").strip()
    if not name or set(name) <= {".", " "}:
        if field_name == "files":
            raise ServiceError(
                _l(
                    "Le nom du fichier « %(name)s » n’est pas valable : renommez-le avant de l’envoyer.", name=raw or ""
                ),
                field=field_name,
            )
        raise ServiceError(
            _l("Ce nom n’est pas valable : il faut au moins une lettre ou un chiffre."), field=field_name
        )
    return shorten(name, limit)


def shorten(name: str, limit: int) -> str:
    """Cut a name to `limit` characters, keeping its extension."""
    if len(name) <= limit:
        return name
    stem, dot, ext = name.rpartition(".")
    return (stem[: limit - len(ext) - 1] + dot + ext) if dot and stem and len(ext) < 12 else name[:limit]


def upload_name(raw: str | None) -> str:
    """The name of an uploaded file: its last path part (some browsers send C:\\...\\name), cleaned."""
    base = re.split(r"[/\\]", raw or "")[-1]
    return clean_name(base, field_name="files", limit=255)


def free_name(name: str, taken: set[str], limit: int = 255) -> str:
    """`name`, or "name (2).ext", "name (3).ext"... the first not in `taken` (compared casefolded),
    never longer than `limit`."""
    if name.casefold() not in taken:
        return name
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, dot, ext = name, "", ""
    n = 2
    while True:
        suffix = f" ({n}){dot}{ext}"
        candidate = stem[: max(limit - len(suffix), 1)] + suffix
        if candidate.casefold() not in taken:
            return candidate
        n += 1


# The tree ---------------------------------------------------------------------------------


@dataclass
class Tree:
    """Every folder of a space, loaded in one query, with what pages need to ask of it."""

    by_id: dict[int, Folder]
    children: dict[int | None, list[Folder]] = field(default_factory=dict)

    @classmethod
    def load(cls, space: Space) -> Tree:
        found = db.session.scalars(
            select(Folder)
            .options(selectinload(Folder.created_by))
            .where(Folder.space_id == space.id)
            .order_by(Folder.name)
        ).all()
        tree = cls({f.id: f for f in found})
        for folder in found:
            tree.children.setdefault(folder.parent_id, []).append(folder)
        return tree

    def ancestors(self, folder: Folder | None) -> list[Folder]:
        """From the top down to `folder` included: the breadcrumb."""
        chain, seen = [], set()
        while folder is not None and folder.id not in seen:  # a loop in the data must not hang a page
            seen.add(folder.id)
            chain.append(folder)
            folder = self.by_id.get(folder.parent_id) if folder.parent_id else None
        return chain[::-1]

    def is_live(self, folder_id: int | None) -> bool:
        """True when the folder and every folder above it are out of the trash."""
        if folder_id is None:
            return True
        folder = self.by_id.get(folder_id)
        return folder is not None and all(f.deleted_at is None for f in self.ancestors(folder))

    def subtree(self, folder_id: int) -> list[int]:
        """The folder's id and those of every folder under it."""
        ids, todo = [], [folder_id]
        while todo:
            current = todo.pop()
            if current in ids:
                continue
            ids.append(current)
            todo.extend(f.id for f in self.children.get(current, []))
        return ids

    def owned_only_by(self, folder: Folder, user_id: int) -> bool:
        """True when `user_id` made the folder and everything under it (files included, trash too)."""
        ids = self.subtree(folder.id)
        if any(self.by_id[i].created_by_id != user_id for i in ids):
            return False
        others = db.session.scalar(
            select(Document.id)
            .where(
                Document.space_id == folder.space_id,
                Document.folder_id.in_(ids),
                Document.created_by_id.is_distinct_from(user_id),
            )
            .limit(1)
        )
        return others is None

    def live_folders(self) -> list[tuple[Folder, int]]:
        """Live folders in tree order with their depth: the choices of a "move to" list."""
        out = []

        def walk(parent_id, depth):
            for folder in self.children.get(parent_id, []):
                if folder.deleted_at is None:
                    out.append((folder, depth))
                    walk(folder.id, depth + 1)

        walk(None, 0)
        return out


def get_folder(space: Space, tree: Tree, folder_id: int | None) -> Folder | None:
    """A live folder of this space, or None."""
    folder = tree.by_id.get(folder_id) if folder_id else None
    return folder if folder is not None and folder.space_id == space.id and tree.is_live(folder.id) else None


def get_document(space: Space, tree: Tree, document_id: int | None) -> Document | None:
    """A live document of this space (not in the trash, nor in a folder that is), or None."""
    if not document_id:
        return None
    document = db.session.scalar(select(Document).where(Document.id == document_id, Document.space_id == space.id))
    if document is None or document.deleted_at is not None or not tree.is_live(document.folder_id):
        return None
    return document


def get_version(space: Space, document: Document, version_id: int | None) -> DocumentVersion | None:
    if not version_id:
        return None
    return db.session.scalar(
        select(DocumentVersion).where(
            DocumentVersion.id == version_id,
            DocumentVersion.document_id == document.id,
            DocumentVersion.space_id == space.id,
        )
    )


def current_version(document: Document) -> DocumentVersion:
    return db.session.get(DocumentVersion, document.current_version_id)


def versions(document: Document) -> list[DocumentVersion]:
    return list(
        db.session.scalars(
            select(DocumentVersion)
            .options(selectinload(DocumentVersion.created_by))
            .where(DocumentVersion.document_id == document.id)
            .order_by(DocumentVersion.number.desc())
        )
    )


def name_key(name: str) -> tuple[str, str]:
    """Sort key for names as a French reader expects: case and accents ignored ("Écoles" with the E)."""
    folded = name.casefold()
    return "".join(c for c in unicodedata.normalize("NFD", folded) if not unicodedata.combining(c)), folded


def _in_folder(space: Space, parent_id: int | None):
    return (
        Document.space_id == space.id,
        Document.deleted_at.is_(None),
        Document.folder_id.is_(None) if parent_id is None else Document.folder_id == parent_id,
    )


def _subfolders(tree: Tree, parent_id: int | None, sort: str) -> list[Folder]:
    subfolders = [f for f in tree.children.get(parent_id, []) if f.deleted_at is None]
    if sort == "date":
        subfolders.sort(key=lambda f: f.updated_at, reverse=True)
    else:
        subfolders.sort(key=lambda f: name_key(f.name))
    return subfolders


def ordered(space: Space, parent_id: int | None, sort: str = "name", *, images: bool = False) -> list:
    """(id, name) of the live documents right inside a folder, in the order the folder shows them.
    Names sort in Python (SQLite's lower() knows only ASCII), so the order is computed on these
    pairs: cheap even for a thousand files, whose rows are not loaded."""
    stmt = select(Document.id, Document.name).where(*_in_folder(space, parent_id))
    if images:
        stmt = stmt.where(Document.content_type.in_(sorted(storage.THUMBNAIL_TYPES)))
    if sort == "date":
        stmt = stmt.order_by(Document.updated_at.desc(), Document.id.desc())
    elif sort == "size":
        stmt = stmt.order_by(Document.size.desc(), Document.id)
    rows = db.session.execute(stmt).all()
    if sort == "name":
        rows.sort(key=lambda row: (name_key(row.name), row.id))
    return rows


def contents(space: Space, folder: Folder | None, tree: Tree) -> tuple[list[Folder], list[Document]]:
    """The live folders and documents right inside `folder` (None: the top), by name."""
    parent_id = folder.id if folder else None
    documents = db.session.scalars(select(Document).where(*_in_folder(space, parent_id)))
    return _subfolders(tree, parent_id, "name"), sorted(documents, key=lambda d: (name_key(d.name), d.id))


def contents_page(
    space: Space, folder: Folder | None, tree: Tree, sort: str, number: int, per_page: int
) -> tuple[list[Folder], Page]:
    """The subfolders (all of them) and one page of the documents right inside `folder`, with their authors."""
    parent_id = folder.id if folder else None
    ids = [row.id for row in ordered(space, parent_id, sort)[(number - 1) * per_page : number * per_page + 1]]
    shown = ids[:per_page]
    found = {
        d.id: d
        for d in db.session.scalars(
            select(Document)
            .options(selectinload(Document.created_by))
            .where(Document.space_id == space.id, Document.id.in_(shown))
        )
    }
    documents = [found[i] for i in shown if i in found]
    return _subfolders(tree, parent_id, sort), Page(items=documents, number=number, has_next=len(ids) > per_page)


def _taken_names(space: Space, tree: Tree, parent_id: int | None, *, folders: bool) -> set[str]:
    if folders:
        return {f.name.casefold() for f in tree.children.get(parent_id, []) if f.deleted_at is None}
    stmt = select(Document.name).where(*_in_folder(space, parent_id))
    return {name.casefold() for name in db.session.scalars(stmt)}


# Folders ----------------------------------------------------------------------------------


def create_folder(space: Space, tree: Tree, parent: Folder | None, name: str, *, actor: User) -> Folder:
    name = clean_name(name)
    parent_id = parent.id if parent else None
    if name.casefold() in _taken_names(space, tree, parent_id, folders=True):
        raise ServiceError(_l("Un dossier porte déjà ce nom ici."), field="name", status=409)
    folder = Folder(space_id=space.id, parent_id=parent_id, name=name, created_by_id=actor.id)
    db.session.add(folder)
    db.session.flush()
    tree.by_id[folder.id] = folder
    tree.children.setdefault(parent_id, []).append(folder)
    return folder


def rename_folder(space: Space, tree: Tree, folder: Folder, name: str) -> None:
    name = clean_name(name)
    taken = _taken_names(space, tree, folder.parent_id, folders=True) - {folder.name.casefold()}
    if name.casefold() in taken:
        raise ServiceError(_l("Un dossier porte déjà ce nom ici."), field="name", status=409)
    folder.name, folder.updated_at = name, utcnow()


def lock_space(space: Space) -> None:
    """Serialise changes to the space's tree: a row lock (PostgreSQL), the write lock (SQLite)."""
    db.session.execute(
        update(Space)
        .where(Space.id == space.id)
        .values(storage_used=Space.storage_used)
        .execution_options(synchronize_session=False)
    )


def move_folder(space: Space, tree: Tree, folder: Folder, target: Folder | None) -> None:
    """Put a folder (and all it holds) into `target`; never into itself or one of its own subfolders.

    The tree is read again under the space's lock, so two crossed moves cannot make a loop.
    """
    lock_space(space)
    tree = Tree.load(space)
    if target is not None and target.id in tree.subtree(folder.id):
        raise ServiceError(
            _l("Un dossier ne peut pas aller dans lui-même ni dans un de ses sous-dossiers."),
            field="target",
            status=409,
        )
    target_id = target.id if target else None
    if folder.name.casefold() in _taken_names(space, tree, target_id, folders=True) - (
        {folder.name.casefold()} if folder.parent_id == target_id else set()
    ):
        raise ServiceError(_l("Un dossier porte déjà ce nom à cet endroit."), field="target", status=409)
    folder.parent_id, folder.updated_at = target_id, utcnow()


# Documents --------------------------------------------------------------------------------


def rename_document(space: Space, tree: Tree, document: Document, name: str) -> None:
    name = clean_name(name, limit=255)
    taken = _taken_names(space, tree, document.folder_id, folders=False) - {document.name.casefold()}
    if name.casefold() in taken:
        raise ServiceError(_l("Un fichier porte déjà ce nom ici."), field="name", status=409)
    document.name, document.updated_at = name, utcnow()
    after_commit("documents.document", document.id, space.id, "updated")


def move_document(space: Space, tree: Tree, document: Document, target: Folder | None) -> None:
    target_id = target.id if target else None
    if target_id != document.folder_id and document.name.casefold() in _taken_names(
        space, tree, target_id, folders=False
    ):
        raise ServiceError(_l("Un fichier porte déjà ce nom à cet endroit."), field="target", status=409)
    document.folder_id, document.updated_at = target_id, utcnow()


# Quota ------------------------------------------------------------------------------------


def quota_bytes(space: Space) -> int:
    return space.quota_mb * MB


def room_left(space: Space) -> int:
    return max(quota_bytes(space) - space.storage_used, 0)


def reserve(space: Space, size: int, name: str) -> None:
    """Count `size` bytes against the space's quota, or refuse (413) saying how much room is left.

    One UPDATE checks and counts at once, so two uploads at the same moment cannot both
    squeeze into the last megabytes.
    """
    result = db.session.execute(
        update(Space)
        .where(Space.id == space.id, Space.storage_used + size <= cast(Space.quota_mb, BigInteger) * MB)
        .values(storage_used=Space.storage_used + size)
        .execution_options(synchronize_session=False)
    )
    db.session.expire(space, ["storage_used"])
    if result.rowcount != 1:
        from agora.core.templating import human_size

        raise ServiceError(
            _l(
                "Plus assez de place : « %(name)s » pèse %(size)s et il ne reste que %(left)s dans cet espace. "
                "Un administrateur de l’espace peut vider la corbeille ou demander plus de place à l’hébergeur.",
                name=name,
                size=human_size(size),
                left=human_size(room_left(space)),
            ),
            field="files",
            status=413,
        )


def release(space: Space, size: int) -> None:
    db.session.execute(
        update(Space)
        .where(Space.id == space.id)
        .values(storage_used=case((Space.storage_used > size, Space.storage_used - size), else_=0))
        .execution_options(synchronize_session=False)
    )
    db.session.expire(space, ["storage_used"])


def used_bytes(space_id: int) -> int:
    """What the space's versions weigh, counted from the rows (trash included)."""
    return (
        db.session.scalar(
            select(func.coalesce(func.sum(DocumentVersion.size), 0)).where(DocumentVersion.space_id == space_id)
        )
        or 0
    )


# Uploads and versions ---------------------------------------------------------------------


def upload_limit() -> int:
    return int(current_app.config["MAX_UPLOAD_MB"]) * MB


def _new_version(
    space: Space, document: Document, received: storage.Received, actor: User | None, note: str
) -> DocumentVersion:
    reserve(space, received.size, document.name)
    # Lock the document's row before numbering, so two versions sent at once get 2 and 3.
    db.session.execute(
        update(Document)
        .where(Document.id == document.id)
        .values(updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    number = (
        db.session.scalar(select(func.max(DocumentVersion.number)).where(DocumentVersion.document_id == document.id))
        or 0
    ) + 1
    version = DocumentVersion(
        space_id=space.id,
        document_id=document.id,
        number=number,
        storage_name=storage.place(received, space.id),
        size=received.size,
        sha256=received.sha256,
        content_type=received.content_type,
        note=one_line(note)[:300],
        created_by_id=actor.id if actor else None,
    )
    db.session.add(version)
    db.session.flush()
    _make_current(document, version)
    return version


def _make_current(document: Document, version: DocumentVersion) -> None:
    document.current_version_id = version.id
    document.size, document.content_type, document.updated_at = version.size, version.content_type, utcnow()


def store_file(
    space: Space,
    tree: Tree,
    folder: Folder | None,
    upload,
    *,
    actor: User | None,
    on_conflict: str = "version",
    note: str = "",
    record: bool = True,
    shown_as_image: bool = False,
) -> tuple[Document, bool]:
    """Store one uploaded file (a werkzeug FileStorage) in `folder`.

    A live file of the same name (compared without case) gets a new version, or with
    on_conflict="rename" the upload is kept beside it as "name (2).ext". Returns the document and
    whether it is new. Raises ServiceError for an empty name, an oversized file or a full quota,
    and, when the file is to be `shown_as_image`, for an image with too many pixels.
    """
    name = upload_name(upload.filename)
    received = storage.receive(upload.stream, upload_limit())
    storage.changes().temporary.append(received.path)
    if shown_as_image:
        storage.check_image(received, "files")
    if received.size == 0:
        raise ServiceError(_l("« %(name)s » est vide : rien à enregistrer.", name=name), field="files")
    folder_id = folder.id if folder else None
    existing = None
    if on_conflict == "version":
        stmt = select(Document).where(
            Document.space_id == space.id,
            Document.deleted_at.is_(None),
            Document.folder_id.is_(None) if folder_id is None else Document.folder_id == folder_id,
        )
        existing = next((d for d in db.session.scalars(stmt) if d.name.casefold() == name.casefold()), None)
    if existing is not None:
        _new_version(space, existing, received, actor, note)
        after_commit("documents.document", existing.id, space.id, "updated")
        if record:
            record_activity(space, actor, "documents.version", existing.name, _document_url(space, existing))
            _notify_followers(space, tree, existing, actor, "documents.version", note)
        return existing, False
    name = free_name(name, _taken_names(space, tree, folder_id, folders=False), 255)
    document = Document(space_id=space.id, folder_id=folder_id, name=name, created_by_id=actor.id if actor else None)
    db.session.add(document)
    db.session.flush()
    _new_version(space, document, received, actor, note)
    after_commit("documents.document", document.id, space.id, "created")
    if record:
        record_activity(space, actor, "documents.document", document.name, _document_url(space, document))
        _notify_followers(space, tree, document, actor, "documents.document", note)
    return document, True


def add_version(space: Space, document: Document, upload, *, actor: User, note: str = "") -> DocumentVersion:
    """A new version of `document` from an upload, whatever the uploaded file is called."""
    upload_name(upload.filename)
    received = storage.receive(upload.stream, upload_limit())
    storage.changes().temporary.append(received.path)
    if received.size == 0:
        raise ServiceError(_l("Ce fichier est vide : rien à enregistrer."), field="file")
    version = _new_version(space, document, received, actor, note)
    after_commit("documents.document", document.id, space.id, "updated")
    record_activity(space, actor, "documents.version", document.name, _document_url(space, document))
    _notify_followers(space, Tree.load(space), document, actor, "documents.version", note)
    return version


def restore_version(space: Space, document: Document, version: DocumentVersion, *, actor: User) -> None:
    """Make an older version the current one again (the others stay in the history)."""
    _make_current(document, version)
    after_commit("documents.document", document.id, space.id, "updated")
    record_activity(space, actor, "documents.version", document.name, _document_url(space, document))


def followers(space: Space, tree: Tree, folder_id: int | None) -> list[User]:
    """Who follows this folder, a folder above it, or the whole documents of the space."""
    chain = [f.id for f in tree.ancestors(tree.by_id.get(folder_id))] if folder_id else []
    where = FolderFollow.folder_id.is_(None)
    if chain:
        where = where | FolderFollow.folder_id.in_(chain)
    following = select(FolderFollow.user_id).where(FolderFollow.space_id == space.id, where)
    return list(db.session.scalars(select(User).where(User.id.in_(following))))


def is_following(space: Space, folder: Folder | None, user: User) -> bool:
    return (
        db.session.scalar(
            select(FolderFollow.id).where(
                FolderFollow.space_id == space.id,
                FolderFollow.user_id == user.id,
                FolderFollow.folder_id.is_(None) if folder is None else FolderFollow.folder_id == folder.id,
            )
        )
        is not None
    )


def follow_folder(space: Space, folder: Folder | None, user: User, on: bool) -> None:
    """Start or stop hearing of new files in this folder (None: everywhere in the space)."""
    existing = db.session.scalar(
        select(FolderFollow).where(
            FolderFollow.space_id == space.id,
            FolderFollow.user_id == user.id,
            FolderFollow.folder_id.is_(None) if folder is None else FolderFollow.folder_id == folder.id,
        )
    )
    if on and existing is None:
        db.session.add(FolderFollow(space_id=space.id, folder_id=folder.id if folder else None, user_id=user.id))
    elif not on and existing is not None:
        db.session.delete(existing)


def _notify_followers(space: Space, tree: Tree, document: Document, actor: User | None, verb: str, note: str) -> None:
    from agora.notifications import services as notifications

    notifications.notify(
        space,
        "document",
        verb,
        followers(space, tree, document.folder_id),
        actor=actor,
        title=document.name,
        url=_document_url(space, document),
        group_key=f"documents:{space.id}",
        excerpt=note,
    )


def _document_url(space: Space, document: Document) -> str:
    return url_for("documents.show_document", slug=space.slug, document_id=document.id)


# Trash ------------------------------------------------------------------------------------


def trash(space: Space, item: Folder | Document, *, actor: User) -> None:
    item.deleted_at = utcnow()
    if isinstance(item, Document):
        after_commit("documents.document", item.id, space.id, "deleted")


def trash_cutoff(now: datetime | None = None) -> datetime:
    return (now or utcnow()) - timedelta(days=TRASH_DAYS)


def trashed(space: Space, tree: Tree, now: datetime | None = None) -> tuple[list[Folder], list[Document]]:
    """What the trash shows: items deleted in the last 30 days, not inside another trashed folder."""
    cutoff = trash_cutoff(now)
    folders = [
        f
        for f in tree.by_id.values()
        if f.deleted_at is not None and f.deleted_at > cutoff and tree.is_live(f.parent_id)
    ]
    documents = [
        d
        for d in db.session.scalars(
            select(Document)
            .options(selectinload(Document.created_by))
            .where(Document.space_id == space.id, Document.deleted_at > cutoff)
            .order_by(Document.deleted_at.desc(), Document.id.desc())
        )
        if tree.is_live(d.folder_id)
    ]
    folders.sort(key=lambda f: f.deleted_at, reverse=True)
    return folders, documents


def get_trashed(space: Space, tree: Tree, kind: str, item_id: int, now: datetime | None = None):
    folders, documents = trashed(space, tree, now)
    for item in folders if kind == "folder" else documents:
        if item.id == item_id:
            return item
    return None


def restore(space: Space, tree: Tree, item: Folder | Document) -> str:
    """Take an item out of the trash, back where it was (or at the top when that place is gone).

    A name taken meanwhile gets a "(2)". Returns the name it came back under.
    """
    parent_id = item.parent_id if isinstance(item, Folder) else item.folder_id
    if not tree.is_live(parent_id):
        parent_id = None
    taken = _taken_names(space, tree, parent_id, folders=isinstance(item, Folder))
    item.name = free_name(item.name, taken, 200 if isinstance(item, Folder) else 255)
    item.deleted_at = None
    if isinstance(item, Folder):
        item.parent_id = parent_id
    else:
        item.folder_id = parent_id
        after_commit("documents.document", item.id, space.id, "created")
    return item.name


def purge(space: Space, tree: Tree, folders: list[Folder] = (), documents: list[Document] = ()) -> int:
    """Remove items for good: rows now, files once that commits; the quota gets their bytes back."""
    folder_ids = sorted({i for f in folders for i in tree.subtree(f.id)})
    document_ids = {d.id for d in documents}
    if folder_ids:
        document_ids |= set(
            db.session.scalars(
                select(Document.id).where(Document.space_id == space.id, Document.folder_id.in_(folder_ids))
            )
        )
    freed = 0
    if document_ids:
        db.session.execute(
            delete(Attachment).where(Attachment.space_id == space.id, Attachment.document_id.in_(document_ids))
        )
        # Count only the versions this transaction removed: a purge running at the same moment
        # (two uploads clearing the same expired trash) must not give the bytes back twice.
        removed = db.session.execute(
            delete(DocumentVersion)
            .where(DocumentVersion.space_id == space.id, DocumentVersion.document_id.in_(document_ids))
            .returning(DocumentVersion.storage_name, DocumentVersion.size)
        ).all()
        for storage_name, size in removed:
            storage.forget(space.id, storage_name)
            freed += size
        db.session.execute(delete(Document).where(Document.space_id == space.id, Document.id.in_(document_ids)))
        for document_id in document_ids:
            after_commit("documents.document", document_id, space.id, "deleted")
    if folder_ids:
        # Deepest first, so no folder row outlives the rows that point at it.
        depth = {i: len(tree.ancestors(tree.by_id[i])) for i in folder_ids}
        for folder_id in sorted(folder_ids, key=depth.get, reverse=True):
            db.session.execute(delete(Folder).where(Folder.space_id == space.id, Folder.id == folder_id))
    db.session.expire_all()
    if freed:
        release(space, freed)
    return freed


def purge_expired(space: Space, tree: Tree, now: datetime | None = None) -> int:
    """Remove for good what has waited more than 30 days in the trash; return the bytes freed."""
    cutoff = trash_cutoff(now)
    folders = [f for f in tree.by_id.values() if f.deleted_at is not None and f.deleted_at <= cutoff]
    documents = list(
        db.session.scalars(select(Document).where(Document.space_id == space.id, Document.deleted_at <= cutoff))
    )
    return purge(space, tree, folders, documents) if folders or documents else 0


def empty_trash(space: Space, tree: Tree) -> int:
    folders = [f for f in tree.by_id.values() if f.deleted_at is not None]
    documents = list(
        db.session.scalars(select(Document).where(Document.space_id == space.id, Document.deleted_at.is_not(None)))
    )
    return purge(space, tree, folders, documents)


# Attachments ------------------------------------------------------------------------------


def attachments_folder(space: Space, tree: Tree, actor: User) -> Folder:
    """The live top-level "Pièces jointes" folder where attached files are kept, made when needed."""
    name = str(_l("Pièces jointes"))
    for folder in tree.children.get(None, []):
        if folder.deleted_at is None and folder.name.casefold() == name.casefold():
            return folder
    folder = create_folder(space, tree, None, name, actor=actor)
    folder.created_by_id = None  # shared by everyone who attaches: only space admins manage it
    return folder


def attach(
    space: Space, kind: str, target_id: int, uploads, *, actor: User, images: bool = False, only: str | None = None
) -> list[Document]:
    """Store uploaded files as documents (same checks, same quota) attached to an item.

    With `images`, the files are shown as pictures of the item: an image too large to decode is
    refused. With `only` ("image" or "sound"), a file of another kind is refused: a photo field
    takes pictures, a voice message field sound. Raises ServiceError."""
    uploads = [u for u in uploads if u and u.filename]
    if not uploads:
        return []
    tree = Tree.load(space)
    folder = attachments_folder(space, tree, actor)
    documents = []
    for upload in uploads:
        document, _created = store_file(
            space, tree, folder, upload, actor=actor, on_conflict="rename", record=False, shown_as_image=images
        )
        if only == "sound" and not document.is_audio:
            raise ServiceError(
                _l("« %(name)s » n'est pas un enregistrement sonore : choisissez un fichier son.", name=document.name)
            )
        if only == "image" and not document.is_image:
            raise ServiceError(
                _l("« %(name)s » n'est pas une photo : choisissez une image (JPEG, PNG…).", name=document.name)
            )
        db.session.add(Attachment(space_id=space.id, document_id=document.id, kind=kind, target_id=target_id))
        documents.append(document)
    db.session.flush()
    return documents


def attach_form_files(
    space: Space,
    kind: str,
    target_id: int,
    uploads,
    *,
    field: str,
    actor: User,
    images: bool = False,
    only: str | None = None,
) -> list[Document]:
    """Attach files sent with a form (see `attach`); a refusal names the form's field."""
    if not space.has_module("documents"):
        return []
    try:
        return attach(space, kind, target_id, uploads or [], actor=actor, images=images, only=only)
    except ServiceError as exc:
        raise ServiceError(exc.message, field=field, status=exc.status) from None


def attach_message_files(
    space: Space, kind: str, target_id: int, form, *, has_text: bool, empty, actor: User
) -> list[Document]:
    """Keep a message's voice message, photos and other files, sent in its form's `voice`, `photos`
    and (if it has one) `attachments` fields (agora.documents.forms). A message without text needs
    a voice message: raises ServiceError(`empty`) otherwise, or when a file is refused; the caller
    rolls back, and the message goes with its files."""
    voice, photos = form.voice.data, form.photos.data
    files = form.attachments.data if "attachments" in form else []
    kept = attach_form_files(space, kind, target_id, [voice], field="voice", actor=actor, only="sound")
    kept += attach_form_files(space, kind, target_id, photos, field="photos", actor=actor, images=True, only="image")
    kept += attach_form_files(space, kind, target_id, files, field="attachments", actor=actor)
    if not has_text and not any(document.is_audio for document in kept):
        raise ServiceError(empty, field="body")
    return kept


def attachments_for(space: Space, kind: str, target_ids) -> dict[int, list[Document]]:
    """Live attached documents of many items in one query: {target id: [documents]}."""
    ids = list(set(target_ids))
    if not ids:
        return {}
    rows = db.session.execute(
        select(Attachment.target_id, Document)
        .join(Document, Document.id == Attachment.document_id)
        .where(
            Attachment.space_id == space.id,
            Attachment.kind == kind,
            Attachment.target_id.in_(ids),
            Document.deleted_at.is_(None),
        )
        .order_by(Document.name)
    ).all()
    tree = Tree.load(space) if rows else None
    found: dict[int, list[Document]] = {}
    for target_id, document in rows:
        if tree.is_live(document.folder_id):
            found.setdefault(target_id, []).append(document)
    return found


# Consistency ------------------------------------------------------------------------------


@dataclass
class CheckReport:
    orphans: list[Path] = field(default_factory=list)
    missing: list[tuple[int, int, str]] = field(default_factory=list)  #: (space id, version id, storage name)
    usage: list[tuple[int, int, int]] = field(default_factory=list)  #: (space id, recorded, counted)
    temporary: list[Path] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.missing or self.usage or self.temporary)


def check(*, fix: bool = False, grace_seconds: int = 3600) -> CheckReport:
    """Compare the disk with the rows: files without a row, rows without a file, usage counters.

    Files younger than `grace_seconds` are left alone: an upload may be between its move into
    place and its commit. With fix, orphans go, rows of missing files go (a document left with
    no version goes too), and each space's usage is counted again: the caller commits.
    """
    report = CheckReport()
    root = storage.files_root()
    known = {
        (space_id, name)
        for space_id, name in db.session.execute(select(DocumentVersion.space_id, DocumentVersion.storage_name))
    }
    on_disk = set()
    young = time.time() - grace_seconds
    if root.is_dir():
        for space_dir in root.iterdir():
            if not space_dir.name.isdigit() or not (space_dir / "documents").is_dir():
                continue
            for path in (space_dir / "documents").glob("*/*"):
                key = (int(space_dir.name), path.name)
                on_disk.add(key)
                if key not in known and path.stat().st_mtime < young:
                    report.orphans.append(path)
        tmp = root / "tmp"
        if tmp.is_dir():
            report.temporary = [p for p in tmp.iterdir() if p.stat().st_mtime < young]
    for space_id, version_id, name in db.session.execute(
        select(DocumentVersion.space_id, DocumentVersion.id, DocumentVersion.storage_name)
    ):
        if (space_id, name) not in on_disk and not storage.path_for(space_id, name).is_file():
            report.missing.append((space_id, version_id, name))
    if fix:
        for path in report.orphans + report.temporary:
            path.unlink(missing_ok=True)
        _drop_missing([version_id for _s, version_id, _n in report.missing])
    for space in db.session.scalars(select(Space).order_by(Space.id)):
        counted = used_bytes(space.id)
        if counted != space.storage_used:
            report.usage.append((space.id, space.storage_used, counted))
            if fix:
                space.storage_used = counted
    db.session.flush()
    return report


def _drop_missing(version_ids: list[int]) -> None:
    if not version_ids:
        return
    affected = set(db.session.scalars(select(DocumentVersion.document_id).where(DocumentVersion.id.in_(version_ids))))
    db.session.execute(delete(DocumentVersion).where(DocumentVersion.id.in_(version_ids)))
    for document in db.session.scalars(select(Document).where(Document.id.in_(affected))):
        latest = db.session.scalar(
            select(DocumentVersion)
            .where(DocumentVersion.document_id == document.id)
            .order_by(DocumentVersion.number.desc())
            .limit(1)
        )
        if latest is None:
            db.session.execute(delete(Attachment).where(Attachment.document_id == document.id))
            db.session.delete(document)
        elif document.current_version_id in version_ids:
            _make_current(document, latest)
    db.session.flush()
