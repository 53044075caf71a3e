"""Generated documents for `agora demo --spaces N --scale K` (see agora/scale.py)."""

from __future__ import annotations

import hashlib

from sqlalchemy import select, update

from agora.core.registry import ScaleContext
from agora.extensions import db


def seed_scale(ctx: ScaleContext) -> None:
    """Folders and small text documents of a generated space, with their files."""
    from agora.documents import storage
    from agora.documents.models import Document, DocumentVersion, Folder
    from agora.spaces.models import Space

    space, writers, rng, now = ctx.space, ctx.writers, ctx.rng, ctx.now
    count = ctx.want["documents"]
    folders = []
    for name in ("Comptes rendus", "Affiches", "Budget", "Photos de la fête"):
        folder = Folder(space_id=space.id, name=name, created_by_id=writers[0], created_at=now, updated_at=now)
        db.session.add(folder)
        folders.append(folder)
    db.session.flush()
    names, documents = set(), []
    for n in range(count):
        name = f"{rng.choice(ctx.subjects).capitalize()} {n + 1}.txt"
        names.add(name)
        documents.append(
            {
                "space_id": space.id,
                "folder_id": rng.choice(folders).id if n % 4 else None,
                "name": name,
                "size": 0,
                "content_type": "text/plain",
                "created_by_id": rng.choice(writers),
                "created_at": now,
                "updated_at": now,
            }
        )
    ctx.bulk(Document, documents)
    rows = db.session.execute(
        select(Document.id, Document.created_by_id).where(Document.space_id == space.id).order_by(Document.id)
    ).all()
    versions, used = [], 0
    for document_id, author in rows:
        data = (" ".join(ctx.sentence() for _ in range(3)) + "\n").encode()
        storage_name = f"{rng.getrandbits(128):032x}"
        target = storage.path_for(space.id, storage_name)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        used += len(data)
        versions.append(
            {
                "space_id": space.id,
                "document_id": document_id,
                "number": 1,
                "storage_name": storage_name,
                "size": len(data),
                "sha256": hashlib.sha256(data).hexdigest(),
                "content_type": "text/plain",
                "note": "",
                "created_by_id": author,
                "created_at": now,
            }
        )
    ctx.bulk(DocumentVersion, versions)
    db.session.flush()
    for version_id, document_id, size in db.session.execute(
        select(DocumentVersion.id, DocumentVersion.document_id, DocumentVersion.size).where(
            DocumentVersion.space_id == space.id
        )
    ):
        db.session.execute(
            update(Document).where(Document.id == document_id).values(current_version_id=version_id, size=size)
        )
    db.session.execute(update(Space).where(Space.id == space.id).values(storage_used=used))
