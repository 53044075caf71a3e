"""Organisations: the partners of a space that its members belong to."""

from __future__ import annotations

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from agora.extensions import db
from agora.spaces.tenancy import SpaceScoped


class Organisation(SpaceScoped, db.Model):
    __tablename__ = "organisations"
    __table_args__ = (UniqueConstraint("space_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
