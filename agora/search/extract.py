"""The text inside documents: plain text, PDF (pypdf), DOCX (python-docx), ODT and ODS (odfpy).

Bounded: at most MAX_PAGES pages of a PDF and MAX_CHARS characters of anything, so one huge
file cannot stall the request that indexes it. A file that cannot be read gives "" (logged).
"""
from __future__ import annotations

import logging
from pathlib import Path

log = logging.getLogger(__name__)

MAX_CHARS = 200_000
MAX_PAGES = 50
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet")


def text_of(path: Path, content_type: str) -> str:
    try:
        if content_type in TEXT_TYPES:
            with path.open("rb") as handle:
                return handle.read(MAX_CHARS * 2).decode("utf-8", errors="replace")[:MAX_CHARS]
        if content_type == PDF:
            return _pdf(path)
        if content_type == DOCX:
            return _docx(path)
        if content_type in ODF:
            return _odf(path)
    except Exception as exc:  # a broken file must not break indexing  # noqa: BLE001
        log.warning("no text extracted from %s (%s): %s", path.name, content_type, exc)
    return ""


def _pdf(path: Path) -> str:
    from pypdf import PdfReader

    reader = PdfReader(str(path))
    parts, size = [], 0
    for page in reader.pages[:MAX_PAGES]:
        text = page.extract_text() or ""
        parts.append(text)
        size += len(text)
        if size > MAX_CHARS:
            break
    return "\n".join(parts)[:MAX_CHARS]


def _docx(path: Path) -> str:
    import docx

    document = docx.Document(str(path))
    parts = [p.text for p in document.paragraphs]
    for table in document.tables:
        parts.extend(cell.text for row in table.rows for cell in row.cells)
    return "\n".join(parts)[:MAX_CHARS]


def _odf(path: Path) -> str:
    from odf import teletype, text
    from odf.opendocument import load
    from odf.table import TableCell

    document = load(str(path))
    parts = [teletype.extractText(node) for node in document.getElementsByType(text.P)]
    if not any(parts):
        parts = [teletype.extractText(node) for node in document.getElementsByType(TableCell)]
    return "\n".join(p for p in parts if p)[:MAX_CHARS]
