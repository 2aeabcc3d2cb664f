"""Markdown for records' free text: CommonMark with raw HTML disabled, then sanitised.

markdown-it-py renders without HTML (`<script>` in a body becomes text); nh3 then keeps only
harmless tags and links whose scheme is https or mailto (relative links stay), so neither a
`javascript:` link nor an `<img onerror>` can reach a page.
"""

from __future__ import annotations

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


def render_markdown(text: str | None) -> Markup:
    """Safe HTML for a markdown field (empty for None)."""
    if not text:
        return Markup("")
    html = _MD.render(text)
    clean = nh3.clean(
        html,
        tags=ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=ALLOWED_SCHEMES,
        link_rel="noopener noreferrer",
    )
    return Markup(clean)
