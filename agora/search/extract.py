"""The text inside documents: plain text, PDF (pypdf), DOCX, ODT and ODS (their XML, streamed).

Bounded by what is read, not only by what is kept: a 40 kB DOCX can hold 14 MB of XML, and a
PDF page a stream that inflates a thousandfold. So:

- DOCX and ODF are zip files whose one XML member is streamed through expat (no tree is built,
  no DTD or entity is accepted) out of a reader that stops after MAX_MEMBER_BYTES uncompressed
  bytes of that member, MAX_TOTAL_BYTES in all, and MAX_RATIO times the member's compressed size;
- a PDF is read for MAX_PAGES pages at most, each decoded stream limited by pypdf to
  MAX_MEMBER_BYTES, the pages' decoded contents to MAX_TOTAL_BYTES in all;
- plain text is read for MAX_CHARS × 2 bytes; whatever the format, MAX_CHARS characters are kept.

Past a limit, the text read so far is kept. A file that cannot be read gives "" (logged). This
runs in the background process (see agora.search.indexing.extract_pending), never in a request.
"""

from __future__ import annotations

import logging
import struct
import zipfile
from pathlib import Path
from xml.parsers import expat

log = logging.getLogger(__name__)

MAX_CHARS = 200_000
MAX_PAGES = 50
#: Uncompressed bytes read from one zip member or one PDF stream.
MAX_MEMBER_BYTES = 8 * 1024 * 1024
#: Uncompressed bytes read from one file in all.
MAX_TOTAL_BYTES = 16 * 1024 * 1024
#: Most entries a DOCX or ODF zip may list (each costs memory as the zip's directory is read).
MAX_MEMBERS = 5_000
#: Largest inflation believed: office XML compresses 10-30 times, zip bombs hundreds of times.
MAX_RATIO = 100
TEXT_TYPES = ("text/plain", "text/csv", "text/markdown")
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
ODF = ("application/vnd.oasis.opendocument.text", "application/vnd.oasis.opendocument.spreadsheet")
EXTRACTED_TYPES = frozenset((*TEXT_TYPES, PDF, DOCX, *ODF))

_W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main "
_TEXT = "urn:oasis:names:tc:opendocument:xmlns:text:1.0 "


def has_text(content_type: str) -> bool:
    """True when files of that type have text worth extracting."""
    return content_type in EXTRACTED_TYPES


def text_of(path: Path, content_type: str) -> str:
    """The text inside the file (at most MAX_CHARS characters), "" when there is none or it cannot be read."""
    try:
        if content_type in TEXT_TYPES:
            with path.open("rb") as handle:
                return handle.read(MAX_CHARS * 2).decode("utf-8", errors="replace")[:MAX_CHARS]
        if content_type == PDF:
            return _pdf(path)
        if content_type == DOCX:
            return _zipped_xml(path, "word/document.xml", _docx_handlers)
        if content_type in ODF:
            return _zipped_xml(path, "content.xml", _odf_handlers)
    except Exception as exc:  # a broken file must not break indexing  # noqa: BLE001
        log.warning("no text extracted from %s (%s): %s", path.name, content_type, exc)
    return ""


class _Enough(Exception):
    """MAX_CHARS characters are kept: no need to read further."""


class _Bounded:
    """A zip member's stream that ends early: at `limit` uncompressed bytes."""

    def __init__(self, raw, limit: int):
        self.raw, self.left = raw, limit

    def read(self, size: int) -> bytes:
        chunk = self.raw.read(min(size, self.left)) if self.left > 0 else b""
        self.left -= len(chunk)
        return chunk


def _entries(path: Path) -> int:
    """How many entries the zip's end record announces (0xFFFF, the most, for a ZIP64 one)."""
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        handle.seek(max(0, size - 65_536 - 22))
        tail = handle.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) < at + 12:
        raise zipfile.BadZipFile("no end of central directory")
    return struct.unpack("<H", tail[at + 10 : at + 12])[0]


def _zipped_xml(path: Path, member: str, handlers) -> str:
    if _entries(path) > MAX_MEMBERS:
        raise ValueError(f"more than {MAX_MEMBERS} entries in the zip")
    with zipfile.ZipFile(path) as archive:
        info = archive.getinfo(member)
        limit = min(MAX_MEMBER_BYTES, MAX_TOTAL_BYTES, MAX_RATIO * max(info.compress_size, 1))
        if info.file_size > limit:
            log.warning(
                "only the first %s bytes of %s in %s read (%s bytes from %s compressed)",
                limit,
                member,
                path.name,
                info.file_size,
                info.compress_size,
            )
        with archive.open(info) as raw:
            return _stream_text(_Bounded(raw, limit), handlers)


def _refuse_dtd(*_args):
    raise ValueError("a document type declaration or entity in an office file")


def _stream_text(stream: _Bounded, handlers) -> str:
    """Collect the text the handlers pick from an XML stream, chunk by chunk, up to MAX_CHARS."""
    parts: list[str] = []
    size = [0]

    def keep(text: str) -> None:
        parts.append(text)
        size[0] += len(text)
        if size[0] > MAX_CHARS:
            raise _Enough

    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_dtd
    parser.StartElementHandler, parser.EndElementHandler, parser.CharacterDataHandler = handlers(keep)
    try:
        while chunk := stream.read(64 * 1024):
            parser.Parse(chunk, False)
        parser.Parse(b"", True)
    except _Enough:
        pass
    except expat.ExpatError:
        if stream.left > 0:  # broken before its end (a file cut short past a limit keeps its text)
            raise
    return "".join(parts)[:MAX_CHARS]


def _docx_handlers(keep):
    """Text runs (w:t), with tabs, breaks and paragraph ends; deleted text (w:delText) is left out."""
    inside = [0]

    def start(name, _attrs):
        if name == _W + "t":
            inside[0] += 1
        elif name == _W + "tab":
            keep(" ")
        elif name in (_W + "br", _W + "cr"):
            keep("\n")

    def end(name):
        if name == _W + "t":
            inside[0] -= 1
        elif name == _W + "p":
            keep("\n")

    def data(text):
        if inside[0]:
            keep(text)

    return start, end, data


def _odf_handlers(keep):
    """Paragraphs and headings (text:p, text:h) with their spaces (text:s), tabs and line breaks."""
    blocks = (_TEXT + "p", _TEXT + "h")
    inside = [0]

    def start(name, attrs):
        if name in blocks:
            inside[0] += 1
        elif inside[0] and name == _TEXT + "s":
            count = attrs.get(_TEXT + "c", "1")
            keep(" " * min(int(count) if count.isdigit() else 1, 100))
        elif inside[0] and name == _TEXT + "tab":
            keep(" ")
        elif inside[0] and name == _TEXT + "line-break":
            keep("\n")

    def end(name):
        if name in blocks:
            inside[0] -= 1
            keep("\n")

    def data(text):
        if inside[0]:
            keep(text)

    return start, end, data


def _pdf(path: Path) -> str:
    from pypdf import PdfReader, apply_configuration

    limits = {
        name: MAX_MEMBER_BYTES
        for name in (
            "maximum_declared_stream_length",
            "array_based_stream_maximum_output_length",
            "jbig2_maximum_output_length",
            "lzw_maximum_output_length",
            "run_length_maximum_output_length",
            "zlib_maximum_output_length",
            "brotli_maximum_output_length",
            "image_maximum_buffer_size",
            "stream_decoding_work_maximum_length",
            "xfa_decoding_work_maximum_length",
        )
    }
    with apply_configuration(**limits):
        reader = PdfReader(str(path))
        parts, size, decoded = [], 0, 0
        for page in reader.pages[:MAX_PAGES]:
            contents = page.get_contents()
            decoded += len(contents.get_data()) if contents is not None else 0
            if decoded > MAX_TOTAL_BYTES:
                break
            text = page.extract_text() or ""
            parts.append(text)
            size += len(text)
            if size > MAX_CHARS:
                break
    return "\n".join(parts)[:MAX_CHARS]
