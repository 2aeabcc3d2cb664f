"""Markdown for records' free text: CommonMark with raw HTML disabled, then sanitised.

markdown-it-py renders without HTML (`<script>` in a body becomes text); nh3 then keeps only
harmless tags and links whose scheme is https or mailto (relative links stay), so neither a
`javascript:` link nor an `<img onerror>` can reach a page.
"""

from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup

_MD = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
ALLOWED_TAGS = {
    "p",
    "br",
    "em",
    "strong",
    "code",
    "pre",
    "blockquote",
    "ul",
    "ol",
    "li",
    "a",
    "h2",
    "h3",
    "h4",
    "hr",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
}
ALLOWED_SCHEMES = {"https", "mailto"}

# Prose: paragraphs of words and plain punctuation, in which CommonMark sees nothing but
# text. Most descriptions are such (an incident's is written by the helpdesk), and the
# whole pipeline gives for them exactly `<p>` + the lines + `</p>` per paragraph (markdown-it
# escapes `"`, nh3 writes it back): rendered so directly, 50,000 incident pages skip ~15 s of
# parsing. What may start a block (`-`, `+`, a digit, `#`, `>`, indentation, a fence), mark
# inline text (`*_`[]<>&\` and `~|=`), or break a line (trailing spaces, tabs, CR) is not in
# it; tests/unit/test_markdown.py checks the equality on generated prose.
_LETTERS = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u017f"
_FIRST = f"[{_LETTERS}\"'(]"  # what a line may start with
_INNER = f"[{_LETTERS}0-9.,;:'\"()/?%!@$-]"  # and go on with, besides single spaces
_LINE = f"{_FIRST}(?: ?{_INNER})*"
_PROSE = re.compile(f"\\n*{_LINE}(?:\\n+{_LINE})*\\n*")
_PARAGRAPH_BREAK = re.compile("\\n\\n+")


def prose_html(text: str) -> str | None:
    """The HTML of `text` if it is prose as above (else None, for the full pipeline)."""
    if not _PROSE.fullmatch(text):
        return None
    return "".join(f"<p>{p}</p>\n" for p in _PARAGRAPH_BREAK.split(text.strip("\n")))


def render_markdown(text: str | None) -> Markup:
    """Safe HTML for a markdown field (empty for None)."""
    if not text:
        return Markup("")
    prose = prose_html(text)
    if prose is not None:
        return Markup(prose)
    return Markup(full_pipeline(text))


def full_pipeline(text: str) -> str:
    """markdown-it without raw HTML, then nh3: what every text other than prose goes through."""
    html = _MD.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return str(clean)
