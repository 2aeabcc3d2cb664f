"""Markdown: prose rendered directly must equal the full markdown-it + nh3 pipeline."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isg.render import markdown
from isg.render.markdown import full_pipeline, prose_html, render_markdown

WORD = st.text(alphabet="abcXYZéÀøßĀž\u017f0189.,;:'\"()/?%!@$-", min_size=1, max_size=12)
FIRST = st.sampled_from(list("aZÉøĀ\"'("))
LINE = st.builds(lambda first, words: first + " ".join(words), FIRST, st.lists(WORD, max_size=6))
PROSE = st.builds(
    lambda lines, breaks, lead, tail: (
        "\n" * lead
        + "".join(
            line + ("\n" * gap if i < len(lines) - 1 else "")
            for i, (line, gap) in enumerate(zip(lines, breaks, strict=False))
        )
        + "\n" * tail
    ),
    st.lists(LINE, min_size=1, max_size=6),
    st.lists(st.integers(1, 3), min_size=6, max_size=6),
    st.integers(0, 2),
    st.integers(0, 2),
)


@settings(max_examples=400, deadline=None)
@given(PROSE)
def test_prose_is_rendered_exactly_as_the_full_pipeline_would(text: str) -> None:
    fast = prose_html(text)
    assert fast is not None, text
    assert fast == full_pipeline(text)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet="aZé1 -+*#>_`~[]()<>&\\|=!\"'.:\n\t\r\u00a0", max_size=40))
def test_any_text_renders_as_the_full_pipeline(text: str) -> None:
    """Whatever the fast path accepts, it renders as the full pipeline; the rest goes there."""
    assert str(render_markdown(text)) == (full_pipeline(text) if text else "")


@pytest.mark.parametrize(
    "text",
    [
        "- a list item",
        "Intro\n- item",
        "1. first",
        "Intro\n2) second",
        "# Heading",
        "Title\n===",
        "Title\n---",
        "> quoted",
        "    indented code",
        " leading space",
        "trailing two  \nspaces",
        "trailing one \nspace",
        "a *stressed* word",
        "snake_case",
        "`code`",
        "~~~\nfence\n~~~",
        "[link](https://example.org)",
        "<script>alert(1)</script>",
        "fish & chips",
        "back\\slash",
        "tab\there",
        "crlf\r\nline",
        "no\u00a0break",
        "a | b",
        "x = y",
        "+ plus item",
    ],
)
def test_markdown_and_what_may_be_markdown_go_the_full_way(text: str) -> None:
    assert prose_html(text) is None
    assert str(render_markdown(text)) == full_pipeline(text)


def test_prose_skips_the_parser(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str) -> str:
        raise AssertionError(f"parsed {text!r}")

    monkeypatch.setattr(markdown._MD, "render", refuse)
    text = (
        'Reported by the "France" Central Authority (FR) at 10:05.\n\nNo case data; see 2 logs.\n'
    )
    assert str(render_markdown(text)) == (
        '<p>Reported by the "France" Central Authority (FR) at 10:05.</p>\n'
        "<p>No case data; see 2 logs.</p>\n"
    )
