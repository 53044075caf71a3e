"""Folders, documents, their versions, and attachments linking documents to other content.

A document's bytes live in its versions; the document row repeats the current version's size
and type so a folder page needs no join. Trash is a `deleted_at` on the item the person deleted:
what lies inside a deleted folder goes with it and comes back with it.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from agora.auth.models import User
from agora.core.time import UTCDateTime, utcnow
from agora.extensions import db
from agora.spaces.models import Space
from agora.spaces.tenancy import SpaceScoped

#: How long a deleted item waits in the trash before it is removed for good.
TRASH_DAYS = 30


class TrashMixin:
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @property
    def expires_at(self) -> datetime | None:
        return self.deleted_at + timedelta(days=TRASH_DAYS) if self.deleted_at else None


class Folder(TrashMixin, SpaceScoped, db.Model):
    __tablename__ = "folders"
    __table_args__ = (Index("ix_folders_space_id_parent_id", "space_id", "parent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: None for a folder at the top of the space's documents.
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    space: Mapped[Space] = relationship()
    created_by: Mapped[User | None] = relationship()

    def can_change(self, user) -> bool:
        """Rename, move, delete and restore: its creator while they may write, and space admins."""
        return self.space.can_manage(user) or (self.space.can_write(user) and user.id == self.created_by_id)


class Document(TrashMixin, SpaceScoped, db.Model):
    __tablename__ = "documents"
    __table_args__ = (Index("ix_documents_space_id_folder_id", "space_id", "folder_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(255))
    #: The version shown and downloaded; one of this document's versions.
    current_version_id: Mapped[int | None] = mapped_column()
    size: Mapped[int] = mapped_column(BigInteger, default=0)
    content_type: Mapped[str] = mapped_column(String(120), default="application/octet-stream")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    space: Mapped[Space] = relationship()
    created_by: Mapped[User | None] = relationship()

    @property
    def is_image(self) -> bool:
        from agora.documents.storage import THUMBNAIL_TYPES

        return self.content_type in THUMBNAIL_TYPES

    @property
    def is_audio(self) -> bool:
        from agora.documents.storage import AUDIO_TYPES

        return self.content_type in AUDIO_TYPES

    @property
    def is_viewable(self) -> bool:
        from agora.documents.storage import INLINE_TYPES

        return self.content_type in INLINE_TYPES

    def can_change(self, user) -> bool:
        """Rename, move, delete and restore: its creator while they may write, and space admins."""
        return self.space.can_manage(user) or (self.space.can_write(user) and user.id == self.created_by_id)


class DocumentVersion(SpaceScoped, db.Model):
    __tablename__ = "document_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column()
    #: The generated file name on disk, never the person's file name.
    storage_name: Mapped[str] = mapped_column(String(64), unique=True)
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(120))
    note: Mapped[str] = mapped_column(String(300), default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    #: The text inside the file, for search, once the background process has read it (None: not yet).
    extracted_text: Mapped[str | None] = mapped_column(Text)
    #: The search index still lacks this version's text: set with the version, in the same
    #: transaction, cleared by the background process once the text is read and indexed.
    text_pending: Mapped[bool] = mapped_column(default=True, index=True)

    created_by: Mapped[User | None] = relationship()


class Attachment(SpaceScoped, db.Model):
    """A document attached to a forum message, an event or a task (kind, target_id)."""

    __tablename__ = "attachments"
    __table_args__ = (Index("ix_attachments_space_id_kind_target_id", "space_id", "kind", "target_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target_id: Mapped[int] = mapped_column()

    document: Mapped[Document] = relationship()


class FolderFollow(SpaceScoped, db.Model):
    """A person who wants to hear of new files in a folder and the folders below it (folder None: everywhere)."""

    __tablename__ = "folder_follows"
    __table_args__ = (UniqueConstraint("space_id", "folder_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    folder_id: Mapped[int | None] = mapped_column(ForeignKey("folders.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
