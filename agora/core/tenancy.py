"""Space scoping: every space-owned row carries a non-null, indexed space_id."""
from __future__ import annotations

from sqlalchemy import ForeignKey
from sqlalchemy.orm import Mapped, declared_attr, mapped_column


class SpaceScoped:
    """Mixin for tables owned by a space; deleting the space deletes their rows."""

    @declared_attr
    def space_id(cls) -> Mapped[int]:
        return mapped_column(ForeignKey("spaces.id", ondelete="CASCADE"), index=True, nullable=False)
