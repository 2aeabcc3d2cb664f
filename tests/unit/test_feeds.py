"""The open data (one record a line, keys sorted, markup-safe), recent changes once per site,
and RfC adoptions in one pass."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from isg.render.feeds import export_json

TEXT = st.text(alphabet='ab<>&é\u2028"\\ \n', max_size=6)
VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=30,
)
RECORDS = st.dictionaries(
    st.sampled_from(["ci", "incident", "rfc"]),
    st.dictionaries(TEXT, st.dictionaries(TEXT, VALUES, max_size=4), max_size=5),
    max_size=3,
)
AT = datetime.fromisoformat("2026-11-27T12:00:00+00:00")


@settings(max_examples=300, deadline=None)
@given(RECORDS)
def test_the_export_is_the_records_one_a_line_and_markup_safe(records: Any) -> None:
    encoded = export_json(records, AT)
    assert json.loads(encoded) == {"as_of": AT.isoformat(), "records": records}
    assert not {b"<", b">", b"&"} & {bytes([c]) for c in encoded}
    lines = encoded.decode().split("\n")
    per_kind = sum(len(of_kind) + 2 if of_kind else 1 for of_kind in records.values())
    assert len(lines) == 1 + per_kind + (1 if records else 0) + 1  # head, kinds, "}}", ""
    for kind in sorted(records):  # keys sorted, each record whole on its line
        for record_id in sorted(records[kind]):
            line = json.dumps(records[kind][record_id], sort_keys=True, ensure_ascii=False)
            safe = line.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
            assert any(
                row.endswith(": " + safe) or row.endswith(": " + safe + ",") for row in lines
            )


def test_a_large_export_is_written_in_many_batches() -> None:
    records = {"incident": {f"INC-{i:05d}": {"title": "a <b> & c" * (i % 3)} for i in range(2500)}}
    encoded = export_json(records, AT)
    assert json.loads(encoded)["records"] == records
    assert encoded.count(b"\\u003c") == sum(i % 3 for i in range(2500))
    head = b'{"as_of": "2026-11-27T12:00:00+00:00", "records": {\n"incident": {\n'
    assert encoded.startswith(head + b'"INC-00000": {"title": ""},\n')
    assert encoded.endswith(b'"INC-02499": {"title": ""}\n}\n}}\n')
    assert export_json({}, AT) == b'{"as_of": "2026-11-27T12:00:00+00:00", "records": {}}\n'
    assert export_json({"ci": {}}, AT).endswith(b'"records": {\n"ci": {}\n}}\n')


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


@settings(max_examples=200, deadline=None)
@given(RECORDS, st.data())
def test_records_replaced_in_the_export_make_the_export_of_the_records_changed(
    records: Any, data: st.DataObject
) -> None:
    """What a rebuild does to the open data (isg.render.rebuild): the lines of the changed
    records replaced, the bytes those of the whole export made again."""
    from isg.render.feeds import patch_export

    kinds = sorted(kind for kind in records if records[kind])
    assume(kinds)
    kind = data.draw(st.sampled_from(kinds))
    ids = data.draw(st.lists(st.sampled_from(sorted(records[kind])), min_size=1, unique=True))
    new = {i: data.draw(st.dictionaries(TEXT, VALUES, max_size=4)) for i in ids}
    changed = {**records, kind: {**records[kind], **new}}
    before = export_json(records, AT)
    patched = patch_export(before, kind, new)
    assert patched is not None
    assert patched.joined() == export_json(changed, AT)
    assert patched.changed == (patched.joined() != before)
    # Patched again where the last patch said the section ends now, as the next rebuild does.
    again = {i: data.draw(st.dictionaries(TEXT, VALUES, max_size=4)) for i in ids[:1]}
    twice = patch_export(patched.joined(), kind, again, patched.section_end)
    assert twice is not None
    assert twice.joined() == export_json({**changed, kind: {**changed[kind], **again}}, AT)
    assert patch_export(before, kind, new, len(before)) is None  # not where the section ends
    missing = {"absent" + "".join(ids): {}}
    assert patch_export(before, kind, missing) is None


# Text like the JSON between two entries of the index.
NEAR = st.sampled_from(['}, {"id": ', '},\n{"id": "x", "kind": "ci", ']) | TEXT
ENTRY = st.fixed_dictionaries(
    {
        "url": TEXT,
        "kind": st.sampled_from(["ci", "incident"]),
        "id": NEAR,
        "title": NEAR,
        "text": NEAR,
    }
)


@settings(max_examples=200, deadline=None)
@given(st.lists(ENTRY, unique_by=lambda e: (e["kind"], e["id"])), st.data())
def test_entries_replaced_in_the_search_index_make_the_index_of_the_entries_changed(
    entries: list[dict[str, str]], data: st.DataObject
) -> None:
    from isg.render.feeds import patch_search_index, search_index_js

    assume(entries)
    chosen = data.draw(st.lists(st.sampled_from(range(len(entries))), min_size=1, unique=True))
    changed = list(entries)
    for index in chosen:
        changed[index] = {**entries[index], "title": data.draw(NEAR), "text": data.draw(NEAR)}
    new = [changed[index] for index in chosen]
    patched = patch_search_index(search_index_js(entries), new)
    assert patched is not None
    assert patched.joined() == search_index_js(changed)
    text = search_index_js(changed).decode()
    assert (
        json.loads(text.removeprefix("window.ISG_SEARCH_INDEX = ").removesuffix(";\n")) == changed
    )
    body = text.removeprefix("window.ISG_SEARCH_INDEX = [\n").removesuffix("\n];\n")
    assert [json.loads(line.removesuffix(",")) for line in body.split("\n")] == changed
    assert patch_search_index(search_index_js([]), new) is None


@given(st.text())
def test_the_feed_escapes_text_as_the_standard_library_does(text: str) -> None:
    from xml.sax.saxutils import escape as standard

    from isg.render.feeds import escape

    assert escape(text) == standard(text)
    assert escape(text, quote=True) == standard(text, {'"': "&quot;"})
