"""Rich text: Markdown with raw HTML off, rendered, then cleaned by an allow-list sanitiser.

Images are not allowed: until attachments exist, an image would be fetched from another site
(blocked by our Content-Security-Policy, and a way to track readers).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token
from markupsafe import Markup

ALLOWED_TAGS = {
    "p",
    "br",
    "hr",
    "strong",
    "em",
    "del",
    "s",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "ol": {"start"}, "th": {"align"}, "td": {"align"}}
URL_SCHEMES = {"http", "https", "mailto"}
#: Which version of `render_markdown` wrote a stored rendering. Raise it with any change to the
#: output (rules, allowed tags, heading shift): the background process then renders the stored
#: Markdown again, a batch at a time, instead of every page doing it on each view.
RENDERER_VERSION = 1


@lru_cache(maxsize=1)
def _markdown() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": False, "linkify": True, "typographer": False, "breaks": True})
    md.enable(["linkify", "table", "strikethrough"])
    md.disable("image")  # shown as a plain link to the picture
    return md


def _link_names(tokens: list[Token], pattern: re.Pattern, link: Callable[[str], str | None]) -> None:
    """Turn the names pattern finds in plain text (not in links or code) into links, where link gives an address."""
    for token in tokens:
        if token.type != "inline" or not token.children:
            continue
        children, in_link = [], 0
        for child in token.children:
            in_link += child.type == "link_open"
            in_link -= child.type == "link_close"
            if child.type != "text" or in_link:
                children.append(child)
                continue
            position = 0
            for match in pattern.finditer(child.content):
                href = link(match.group(1))
                if not href:
                    continue
                if match.start() > position:
                    children.append(Token("text", "", 0, content=child.content[position : match.start()]))
                children.append(Token("link_open", "a", 1, attrs={"href": href}))
                children.append(Token("text", "", 0, content=match.group(0)))
                children.append(Token("link_close", "a", -1))
                position = match.end()
            if position:
                if position < len(child.content):
                    children.append(Token("text", "", 0, content=child.content[position:]))
            else:
                children.append(child)
        token.children = children


def render_markdown(source: str, names: tuple[re.Pattern, Callable[[str], str | None]] | None = None) -> Markup:
    """Return safe HTML for a Markdown source written by a person.

    names: (pattern, link) to make links of names in the text, e.g. @mentions to the person's page.
    """
    md = _markdown()
    tokens = md.parse(source or "", {})
    if names:
        _link_names(tokens, *names)
    html = md.renderer.render(tokens, md.options, {})
    # Headings inside a post sit below the post's own h2: # becomes h3, ## h4, and so on.
    for level in range(6, 0, -1):
        shifted = min(level + 2, 6)
        html = html.replace(f"<h{level}>", f"<h{shifted}>").replace(f"</h{level}>", f"</h{shifted}>")
    cleaned = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel="nofollow noopener ugc",
        strip_comments=True,
    )
    return Markup(cleaned)


#: Inline tokens whose words are shown; line breaks become spaces.
_TEXT_TOKENS = {"text", "code_inline"}
_BREAK_TOKENS = {"softbreak", "hardbreak"}


def markdown_text(source: str) -> str:
    """Return the words of a Markdown source without its marks, links or escapes, on one line:
    « **encombrants** [en ligne](https://…) » gives « encombrants en ligne »."""
    parts = []
    for token in _markdown().parse(source or ""):
        if token.type == "inline":
            words = "".join(
                child.content if child.type in _TEXT_TOKENS else " " if child.type in _BREAK_TOKENS else ""
                for child in token.children or ()
            )
            parts.append(words)
        elif token.type in ("code_block", "fence"):
            parts.append(token.content)
    return " ".join(" ".join(parts).split())


def quote_markdown(author: str, source: str) -> str:
    """Return the Markdown that quotes a post in a reply."""
    lines = (source or "").strip().splitlines() or [""]
    return f"> **{author}** :\n" + "\n".join(f"> {line}" for line in lines) + "\n\n"
