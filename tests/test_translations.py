"""The English catalog covers every French string of the code and templates, and its .mo is current."""

from __future__ import annotations

import gettext
import os
from io import BytesIO
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "agora" / "translations" / "en" / "LC_MESSAGES"
METHODS = [("agora/**.py", "python"), ("templates/**.html", "jinja2"), ("templates/**.txt", "jinja2")]
KEYWORDS = {"_": None, "_l": None, "gettext": None, "lazy_gettext": None, "ngettext": (1, 2)}


def source_messages() -> set[str]:
    found = set()
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT),
        METHODS,
        # Babel skips folders whose name starts with "_" by default: templates/_macros is one.
        directory_filter=lambda path: not os.path.basename(path).startswith(".") and "node_modules" not in path,
        keywords=KEYWORDS,
        options_map={
            "templates/**.html": {"extensions": "jinja2.ext.i18n"},
            "templates/**.txt": {"extensions": "jinja2.ext.i18n"},
        },
    ):
        found.add(message[0] if isinstance(message, tuple) else message)
    return found


def load_po():
    with (CATALOG / "messages.po").open("rb") as fh:
        return read_po(fh, locale="en")


def test_every_source_string_has_an_english_translation():
    catalog = load_po()
    missing = sorted(m for m in source_messages() if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"run `pybabel update` and translate: {missing[:10]}"


def test_compiled_catalog_matches_the_po_file():
    buffer = BytesIO()
    write_mo(buffer, load_po())
    buffer.seek(0)
    expected = gettext.GNUTranslations(buffer)._catalog
    with (CATALOG / "messages.mo").open("rb") as fh:
        shipped = gettext.GNUTranslations(fh)._catalog
    assert shipped == expected, "run `pybabel compile -d agora/translations`"
