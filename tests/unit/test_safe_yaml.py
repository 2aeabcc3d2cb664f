"""The bounded YAML reader: explicit scalar typing, refused constructs, positions."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from isg.safe_yaml import MAX_BYTES, Position, YamlError, parse_document


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("v: NO", "NO", id="norway-stays-text"),
        pytest.param("v: on", "on", id="on-stays-text"),
        pytest.param("v: yes", "yes", id="yes-stays-text"),
        pytest.param("v: 010", "010", id="leading-zero-stays-text"),
        pytest.param("v: 12:30", "12:30", id="sexagesimal-stays-text"),
        pytest.param("v: 2026-01-01", "2026-01-01", id="bare-date-stays-text"),
        pytest.param("v: 2026-01-01T10:00:00+01:00", "2026-01-01T10:00:00+01:00", id="time"),
        pytest.param("v: 1_000", "1_000", id="underscore-number-stays-text"),
        pytest.param("v: 0x1F", "0x1F", id="hex-stays-text"),
        pytest.param("v: .inf", ".inf", id="inf-stays-text"),
        pytest.param("v: True", "True", id="capital-true-stays-text"),
        pytest.param("v: true", True, id="true"),
        pytest.param("v: false", False, id="false"),
        pytest.param("v: 42", 42, id="int"),
        pytest.param("v: -7", -7, id="negative-int"),
        pytest.param("v: 7.5", 7.5, id="decimal"),
        pytest.param("v: null", None, id="null"),
        pytest.param("v: ~", None, id="tilde"),
        pytest.param("v:", None, id="empty"),
        pytest.param("v: '42'", "42", id="quoted-int-is-text"),
        pytest.param('v: "true"', "true", id="quoted-bool-is-text"),
        pytest.param("v: |\n  a\n  b\n", "a\nb\n", id="literal-block"),
    ],
)
def test_plain_scalars_follow_the_explicit_rule(text: str, expected: object) -> None:
    assert parse_document(text.encode()).data == {"v": expected}


def test_keys_are_always_their_text() -> None:
    assert parse_document(b"on: 1\n1: a\nnull: b\n").data == {"on": 1, "1": "a", "null": "b"}


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        pytest.param(
            b"a: &x 1\nb: *x\n",
            "anchors and aliases are not allowed in records; write the value out",
            (1, 4),
            id="anchor",
        ),
        pytest.param(
            b"a: 1\nb: *x\n",
            "anchors and aliases are not allowed in records; write the value out",
            (2, 4),
            id="alias-without-anchor",
        ),
        pytest.param(
            b"a: !!python/object/apply:os.system ['id']\n",
            "tags are not allowed in records: tag:yaml.org,2002:python/object/apply:os.system",
            (1, 4),
            id="python-tag",
        ),
        pytest.param(
            b"a: !custom x\n", "tags are not allowed in records: !custom", (1, 4), id="tag"
        ),
        pytest.param(
            b"a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first at line 1)", (3, 1), id="duplicate"
        ),
        pytest.param(
            b"a:\n  b: 1\n  b: 2\n", "duplicate key 'b' (first at line 2)", (3, 3), id="nested-dup"
        ),
        pytest.param(b"", "the file is empty; a record is a YAML mapping", (1, 1), id="empty"),
        pytest.param(
            b"# only a comment\n",
            "the file is empty; a record is a YAML mapping",
            (1, 1),
            id="comment-only",
        ),
        pytest.param(b"- a\n", "a record must be a YAML mapping (key: value)", (1, 1), id="list"),
        pytest.param(
            b"just text\n", "a record must be a YAML mapping (key: value)", (1, 1), id="scalar"
        ),
        pytest.param(
            b"a: 1\n---\nb: 2\n",
            "only one YAML document per file is allowed",
            (2, 1),
            id="two-documents",
        ),
        pytest.param(
            b"a: [1, 2\n", "YAML syntax: did not find expected ',' or ']'", (2, 1), id="syntax"
        ),
        pytest.param(
            b"? [a, b]\n: 1\n", "mapping keys must be plain text", (1, 3), id="complex-key"
        ),
        pytest.param(b"a: 1\n\xff\xfe\n", "not valid UTF-8 (byte 5)", (2, 1), id="binary"),
    ],
)
def test_refused_input_names_the_place(
    text: bytes, message: str, position: tuple[int, int]
) -> None:
    with pytest.raises(YamlError) as caught:
        parse_document(text)
    assert caught.value.message == message
    assert caught.value.position == Position(*position)


def test_size_is_bounded_before_parsing() -> None:
    with pytest.raises(YamlError, match="larger than 1024 KiB"):
        parse_document(b"a: " + b"x" * MAX_BYTES)


def test_nesting_is_bounded() -> None:
    with pytest.raises(YamlError, match="nested deeper than 24 levels"):
        parse_document(b"a: " + b"[" * 40 + b"]" * 40)


def test_billion_laughs_is_refused_at_the_first_anchor() -> None:
    bomb = b'a: &a ["lol","lol"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b]\n'
    with pytest.raises(YamlError, match="anchors and aliases"):
        parse_document(bomb)


def test_positions_of_values_and_keys_are_one_based() -> None:
    doc = parse_document(b"a: 1\nb:\n  c: [x, y]\n")
    assert doc.position(("b", "c", 1)) == Position(3, 10)
    assert doc.position(("b", "c"), key=True) == Position(3, 3)
    assert doc.position(("b", "missing")) == Position(3, 3)  # nearest enclosing value


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_input_parses_or_raises_yaml_error(raw: bytes) -> None:
    try:
        doc = parse_document(raw)
    except YamlError as exc:
        assert exc.position.line >= 1
    else:
        assert isinstance(doc.data, dict)


# --- the fast reader and the careful reader give the same data ------------------------------

from pathlib import Path  # noqa: E402

from isg.safe_yaml import _careful, _fast, _unusual  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RECORD_FILES = sorted(ROOT.glob("records/*/*.yaml")) + sorted(
    ROOT.glob("tests/examples/*/*/*.yaml")
)


@pytest.mark.parametrize("path", RECORD_FILES, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_fast_reader_gives_the_careful_readers_data(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    fast = _fast(text)
    try:
        careful = _careful(text).data
    except YamlError:
        assert fast is None or "&" in text or "*" in text or "!" in text
        return
    assert fast is None or fast == careful


def test_fast_document_finds_positions_when_asked() -> None:
    doc = parse_document(b"a: 1\nb:\n  c: [x, y]\n")
    assert doc._values is None  # read the fast way
    assert doc.position(("b", "c", 1)) == Position(3, 10)


YAML_PIECES = st.lists(
    st.sampled_from(
        [
            "a: 1",
            "b: NO",
            "c: '010'",
            "d:",
            "  - x",
            "  - 2.5",
            "e: |",
            "  text",
            "a: dup",
            "f: {x: 1}",
            "g: [1, [2]]",
            "h: ~",
            "? k",
            ": v",
            "i: 12:30",
            'j: "q"',
            "- item",
            "k: on",
            "  nested: true",
            "l: -7",
            "m: 1_000",
            "n: >-",
            "  folded",
        ]
    ),
    max_size=8,
).map(lambda lines: "\n".join(lines) + "\n")


@settings(max_examples=400, deadline=None)
@given(YAML_PIECES | st.text(max_size=120))
def test_fast_and_careful_readers_agree_on_anything(text: str) -> None:
    fast = _fast(text)
    try:
        careful = _careful(text).data
    except YamlError:
        careful = None
    if fast is not None:
        assert fast == careful


_UNUSUAL_AS_REGEX = re.compile(r"[&*!]|^(?:%|---|\.\.\.)", re.MULTILINE)


@settings(max_examples=400, deadline=None)
@given(
    YAML_PIECES
    | st.text(max_size=120)
    | st.lists(st.sampled_from(["a", "\n", "\r", " ", "-", ".", "%", "&", "*", "!", "#"])).map(
        "".join
    )
)
def test_what_the_fast_reader_leaves_to_the_careful_one(text: str) -> None:
    """Any text with a character that could start an anchor, alias, tag or directive, or a
    line starting like a document marker: what the regex it replaced said."""
    assert _unusual(text) == bool(_UNUSUAL_AS_REGEX.search(text))


def test_documents_anchors_and_tags_are_read_the_careful_way() -> None:
    for text in ("a: 1\n---\nb: 2\n", "%YAML 1.2\n---\na: 1\n", "a: &x 1\nb: *x\n", "a: !t 1\n"):
        assert _unusual(text)
    assert not _unusual("a: b-c --- d... 100%\n")


def _plain_by_the_rule(text: str) -> object:
    """The explicit rule of the module's docstring, as the regexes say it."""
    if text in ("", "~", "null"):
        return None
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?(?:0|[1-9][0-9]*)", text):
        return int(text)
    if re.fullmatch(r"-?(?:0|[1-9][0-9]*)\.[0-9]+", text):
        return float(text)
    return text


@settings(max_examples=500, deadline=None)
@given(
    st.text(max_size=12)
    | st.lists(
        st.sampled_from(["-", "0", "1", "9", ".", "e", "_", "x", "\u0663", "\uff11", " ", "~"]),
        max_size=8,
    ).map("".join)
)
def test_plain_scalars_follow_the_rule_on_any_text(text: str) -> None:
    from isg.safe_yaml import resolve_plain

    found, expected = resolve_plain(text), _plain_by_the_rule(text)
    assert found == expected and type(found) is type(expected), text
