"""Bytes on disk: receiving uploads, sniffing their type, placing them, thumbnails, cleanup.

Files live under the space's folder by generated names (`files/<space id>/documents/ab/abcd...`).
An upload is copied to a temporary file in the same file system while its size is checked and
its SHA-256 computed, then moved into place with `os.replace`. Files placed during a request
are removed again unless the session's transaction commits (`FileChanges`, settled by session
events, so any `db.session.commit()` or rollback does it); files of deleted rows are removed only
after the deletion commits. A crash between the two leaves at worst an
orphan file on disk, which `agora documents check --fix` removes: never a row without its file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import secrets
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from flask import current_app
from flask_babel import lazy_gettext as _l
from sqlalchemy import event
from sqlalchemy.orm import Session

from agora.core.services import ServiceError

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
#: Sound files a browser plays in an <audio> player: what phones and browsers record (WebM and
#: Ogg Opus, MP4/AAC) and the usual others.
AUDIO_TYPES = frozenset(
    {
        "audio/webm",
        "audio/ogg",
        "audio/mp4",
        "audio/x-m4a",
        "audio/aac",
        "audio/mpeg",
        "audio/wav",
        "audio/x-wav",
        "audio/flac",
    }
)
#: Types shown in the browser (images, sound and PDF); everything else is only ever downloaded.
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp", "application/pdf"}) | AUDIO_TYPES
THUMBNAIL_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
#: A Matroska/WebM track's codec id (element 0x86, one-byte size): "A_OPUS", "V_VP8"...
_WEBM_CODEC = re.compile(rb"\x86[\x81-\xa0]([AV])_")
#: An MP4 track's handler box: "soun" for sound, "vide" for pictures.
_MP4_HANDLER = re.compile(rb"hdlr.{8}(soun|vide)", re.DOTALL)
#: Sniffed types that a browser could run as a page or a script: always sent as plain bytes.
_ACTIVE = ("html", "xml", "svg", "javascript", "ecmascript", "xhtml")
THUMBNAIL_SIZE = 320
#: The thumbnail of an image too large to decode: a plain light grey tile.
TOO_LARGE_TILE = "#e4e4e4"


def files_root() -> Path:
    return Path(current_app.instance_path) / "files"


def tmp_dir() -> Path:
    folder = files_root() / "tmp"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def documents_dir(space_id: int) -> Path:
    return files_root() / str(space_id) / "documents"


def path_for(space_id: int, storage_name: str) -> Path:
    return documents_dir(space_id) / storage_name[:2] / storage_name


def thumbnail_path(space_id: int, storage_name: str) -> Path:
    return files_root() / str(space_id) / "thumbs" / storage_name[:2] / f"{storage_name}.jpg"


@dataclass
class Received:
    """An upload copied to a temporary file, measured, hashed and sniffed."""

    path: Path
    size: int
    sha256: str
    content_type: str


def sniff(path: Path) -> str:
    """The type of a file from its content: libmagic, which sees HTML dressed as a JPEG,
    refined by `filetype`'s magic numbers for binary formats libmagic names vaguely."""
    import filetype
    import magic

    with path.open("rb") as handle:
        head = handle.read(8192)
    if not head:
        return "application/x-empty"
    found = magic.from_buffer(head, mime=True) or "application/octet-stream"
    if found in ("application/octet-stream", "application/zip"):
        guess = filetype.guess(head)
        if guess is not None:
            found = guess.mime
    return _sound_only(found, head)


def _sound_only(found: str, head: bytes) -> str:
    """audio/webm or audio/mp4 for a WebM or MP4 file whose tracks are all sound.

    libmagic names every WebM and MP4 file video/*, but a voice message recorded by Chromium
    (WebM) or Safari (MP4) has one sound track and no picture: its header lists its tracks."""
    if found == "video/webm":
        kinds = set(_WEBM_CODEC.findall(head))
        return "audio/webm" if kinds == {b"A"} else found
    if found in ("video/mp4", "audio/x-m4a"):
        kinds = set(_MP4_HANDLER.findall(head))
        return "audio/mp4" if kinds == {b"soun"} else found
    return found


def served_type(content_type: str) -> str:
    """The Content-Type a file is sent with: never one a browser would render as a page."""
    lowered = content_type.lower()
    if lowered.startswith("text/") or any(word in lowered for word in _ACTIVE):
        return "text/plain; charset=utf-8" if lowered == "text/plain" else "application/octet-stream"
    return content_type


def is_disk_full(exc: OSError) -> bool:
    return exc.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full() -> ServiceError:
    """The refusal of an upload that found the disk (or the user's disk quota) full."""
    log.error("no space left on the device holding %s", files_root())
    return ServiceError(
        _l(
            "Le serveur n'a plus de place pour enregistrer ce fichier : rien n'a été gardé. "
            "Prévenez la personne qui s'occupe de l'hébergement."
        ),
        field="files",
        status=507,
    )


def receive(stream, limit: int) -> Received:
    """Copy an uploaded stream to a temporary file; refuse it (413) past `limit` bytes."""
    digest = hashlib.sha256()
    size = 0
    handle = tempfile.NamedTemporaryFile(dir=tmp_dir(), prefix="upload-", delete=False)
    path = Path(handle.name)
    try:
        with handle:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise ServiceError(
                        _l("Ce fichier dépasse la taille autorisée de %(limit)s Mo.", limit=limit // (1024 * 1024)),
                        field="files",
                        status=413,
                    )
                digest.update(chunk)
                handle.write(chunk)
            handle.flush()
            os.fsync(handle.fileno())  # on disk before any row points at it
        return Received(path=path, size=size, sha256=digest.hexdigest(), content_type=sniff(path))
    except OSError as exc:
        path.unlink(missing_ok=True)
        if is_disk_full(exc):
            raise disk_full() from None
        raise
    except BaseException:
        path.unlink(missing_ok=True)
        raise


@dataclass
class FileChanges:
    """Files placed and files to remove during one transaction."""

    placed: list[Path] = field(default_factory=list)
    doomed: list[Path] = field(default_factory=list)
    temporary: list[Path] = field(default_factory=list)

    def discard(self) -> None:
        """The transaction did not commit: remove what it placed, keep what it meant to delete."""
        for path in self.placed + self.temporary:
            path.unlink(missing_ok=True)
        self.placed, self.doomed, self.temporary = [], [], []

    def committed(self) -> None:
        """The transaction committed: what it deleted can go from the disk now."""
        for path in self.doomed + self.temporary:
            path.unlink(missing_ok=True)
        self.placed, self.doomed, self.temporary = [], [], []


_KEY = "agora_file_changes"


def changes() -> FileChanges:
    """The file changes of the session's current transaction."""
    from agora.extensions import db

    return db.session.info.setdefault(_KEY, FileChanges())


@event.listens_for(Session, "after_commit")
def _settle(session):
    pending = session.info.pop(_KEY, None)
    if pending is not None:
        pending.committed()


@event.listens_for(Session, "after_soft_rollback")
def _undo(session, previous_transaction):
    if not session.in_transaction() or previous_transaction.parent is None:
        pending = session.info.pop(_KEY, None)
        if pending is not None:
            pending.discard()


def place(received: Received, space_id: int) -> str:
    """Move a received file into the space's storage under a new name; return that name."""
    storage_name = secrets.token_hex(16)
    target = path_for(space_id, storage_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(received.path, target)
    changes().placed.append(target)
    directory = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(directory)  # and its new name too, should the power go
    finally:
        os.close(directory)
    return storage_name


def forget(space_id: int, storage_name: str) -> None:
    """Remove a version's file (and its thumbnail) once the deletion of its row commits."""
    changes().doomed.extend([path_for(space_id, storage_name), thumbnail_path(space_id, storage_name)])


def init_app(app) -> None:
    @app.teardown_request
    def _discard_uncommitted(exc):
        """A request that ended without committing leaves none of the files it placed."""
        from agora.extensions import db

        pending = db.session.info.pop(_KEY, None)
        if pending is not None:
            pending.discard()


def thumbnail(space_id: int, storage_name: str) -> Path:
    """The JPEG thumbnail of an image version, made on first request and kept.

    An image with more pixels than may be decoded (agora.core.images) gets a plain tile instead:
    its header is read, never its pixels. Raises OSError or ValueError for an unreadable image.
    """
    from PIL import Image

    from agora.core.images import ImageTooLarge, open_bounded, reduced

    target = thumbnail_path(space_id, storage_name)
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        with open_bounded(path_for(space_id, storage_name)) as source:
            image = reduced(source, (THUMBNAIL_SIZE * 2, THUMBNAIL_SIZE * 2))
    except ImageTooLarge:
        image = Image.new("RGB", (THUMBNAIL_SIZE, THUMBNAIL_SIZE), TOO_LARGE_TILE)
    image.thumbnail((THUMBNAIL_SIZE, THUMBNAIL_SIZE))
    if image.mode in ("RGBA", "LA", "P"):
        image = image.convert("RGBA")
        background = Image.new("RGB", image.size, "white")
        background.paste(image, mask=image.getchannel("A"))
        image = background
    else:
        image = image.convert("RGB")
    handle = tempfile.NamedTemporaryFile(dir=target.parent, suffix=".tmp", delete=False)
    with handle:
        image.save(handle, "JPEG", quality=82)
    os.replace(handle.name, target)
    return target


def check_image(received: Received, field: str) -> None:
    """Refuse (413) an uploaded image with more pixels than may be decoded; other files pass."""
    from PIL import UnidentifiedImageError

    from agora.core.images import ImageTooLarge, open_bounded, too_large_error

    if received.content_type not in THUMBNAIL_TYPES:
        return
    try:
        open_bounded(received.path).close()
    except ImageTooLarge as exc:
        raise too_large_error(exc, field) from None
    except (UnidentifiedImageError, OSError):
        pass  # not an image after all: kept as a file like any other
