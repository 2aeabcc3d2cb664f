"""The open-data JSON is json.dumps(indent=2, sort_keys=True) made markup-safe, byte for
byte, however it is encoded (in pieces, to keep a large export's memory bounded)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from isg.render.feeds import json_bytes

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='ab<>&é\u2028"\\ \n', max_size=6),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


def _definition(value: Any) -> bytes:
    text = json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False)
    return (
        text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") + "\n"
    ).encode()


@settings(max_examples=200, deadline=None)
@given(VALUES)
def test_json_bytes_is_the_indented_dump_made_markup_safe(value: Any) -> None:
    assert json_bytes(value) == _definition(value)


def test_a_large_export_spans_many_pieces() -> None:
    value = {"records": [{"id": f"INC-{i}", "title": "a <b> & c" * (i % 3)} for i in range(20_000)]}
    encoded = json_bytes(value)
    assert encoded == _definition(value)
    assert b"<" not in encoded and encoded.count(b"\\u003c") == sum(i % 3 for i in range(20_000))


def test_recent_changes_are_worked_out_once_and_cut_per_use() -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render import pages
    from isg.render.builder import gather
    from isg.schemas import load_schemas

    registry = parse_registry(read_record_files(REPO_ROOT))
    data = gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    twenty = pages._recent_changes(data, 20)
    assert len(twenty) == 20 and data.recent is None
    assert pages.recent_changes(data, 10) == twenty[:10] == pages._recent_changes(data, 10)
    assert data.recent == twenty
    data.recent = data.recent[:3]  # from now on the kept list answers
    assert pages.recent_changes(data) == twenty[:3]
    assert len(pages.recent_changes(data, 30)) > 20  # more than is kept: worked out again


def test_adoptions_are_found_for_the_rfc_pages_and_the_local_changes() -> None:
    from conftest import FIXED_NOW, REPO_ROOT
    from isg.records import parse_registry, read_record_files
    from isg.render.builder import gather
    from isg.render.pages import plan_pages
    from isg.schemas import load_schemas

    registry = parse_registry(read_record_files(REPO_ROOT))
    data = gather(registry, load_schemas(REPO_ROOT), at=FIXED_NOW, internal=False)
    pages = {page.path: page for page in plan_pages(data)}
    adopted = pages["rfcs/RFC-2026-10QVQ.html"].context["adopted_by"]
    assert [r["id"] for r in adopted] == ["RFC-2026-20GW7"]
    assert pages["rfcs/RFC-2026-20GW7.html"].context["adopted_by"] == []
    changes = {c["id"]: c for c in pages["local-changes.html"].context["changes"]}
    assert "RFC-2026-20GW7" not in changes  # an adopting RfC is not itself a local change
    assert [a["id"] for a in changes["RFC-2026-10QVQ"]["_adopted_by"]] == ["RFC-2026-20GW7"]
    assert all(
        [a["id"] for a in change["_adopted_by"]]
        == [r["id"] for r in data.of("rfc") if r.get("adopts") == change["id"]]
        for change in changes.values()
    )
