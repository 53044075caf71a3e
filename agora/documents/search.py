"""What the documents module gives the search index: live documents, their notes and their text."""

from __future__ import annotations

from flask import url_for
from sqlalchemy import select

from agora.core.registry import Entry, entry_key
from agora.documents.models import Document, DocumentVersion
from agora.extensions import db


def document_entry(document_id: int, full: bool = True, trees: dict | None = None, **_options) -> Entry | None:
    """A live document, with its version notes and the text inside its current version (unless full is False).

    The text is the one the background process read and kept (`extract_pending`): none yet
    while the version waits for it. `trees` keeps each space's folder tree across calls (a
    reindex reads it once per space)."""
    from agora.documents import services as documents

    document = db.session.get(Document, document_id)
    if document is None or document.deleted_at is not None:
        return None
    trees = {} if trees is None else trees
    if document.space_id not in trees:
        trees[document.space_id] = documents.Tree.load(document.space)
    if not trees[document.space_id].is_live(document.folder_id):
        return None
    key = entry_key("documents.document", document.id)
    if not full:  # to show a hit, its name and place are enough
        return Entry(
            key,
            "documents.document",
            "documents",
            document.space_id,
            document.id,
            document.name,
            "",
            document.updated_at,
        )
    version = db.session.get(DocumentVersion, document.current_version_id)
    notes = " ".join(db.session.scalars(select(DocumentVersion.note).where(DocumentVersion.document_id == document.id)))
    text = (version.extracted_text or "") if version else ""
    return Entry(
        key,
        "documents.document",
        "documents",
        document.space_id,
        document.id,
        document.name,
        f"{notes}\n{text}",
        document.updated_at,
    )


def document_url(slug: str, object_id: int, _entry: Entry) -> str:
    return url_for("documents.show_document", slug=slug, document_id=object_id)


def live_documents():
    return Document.deleted_at.is_(None)
