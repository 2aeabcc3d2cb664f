"""What a site rebuild keeps of each incident (isg.render.rebuild): one JSON row a line,
encoded in one call, and a row replaced where it stands."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from isg.render.rebuild import _kept_patched, _kept_text

# Text that looks like the JSON between two rows, or a row's start.
NEAR = ["], [", '], ["records/incidents/', '"], ["records/incidents/a.yaml", ', "\n["]
HOSTILE = st.sampled_from(NEAR) | st.text(alphabet='ab]["\\, \n/recodsint.yaml\u2028', max_size=12)
PATHS = st.builds(lambda name: f"records/incidents/{name}.yaml", HOSTILE)
THIN = st.none() | st.fixed_dictionaries(
    {"id": HOSTILE, "title": HOSTILE},
    optional={
        "affected_cis": st.lists(HOSTILE | PATHS, max_size=3),
        "milestones": st.fixed_dictionaries({"closed": HOSTILE}),
    },
)
ROW = st.tuples(PATHS, HOSTILE, HOSTILE, THIN, st.none() | st.integers(1, 5), st.none() | HOSTILE)


def _one_a_row(kept: list[list[Any]]) -> str:
    return "[\n" + ",\n".join(json.dumps(row) for row in kept) + "\n]"


@settings(max_examples=300, deadline=None)
@given(st.lists(ROW.map(list), unique_by=lambda row: row[0], max_size=6), st.data())
def test_rows_are_encoded_one_a_line_and_replaced_where_they_stand(
    kept: list[list[Any]], data: st.DataObject
) -> None:
    text = _kept_text(kept)
    assert text == _one_a_row(kept)
    assert json.loads(text) == kept
    if kept:
        index = data.draw(st.integers(0, len(kept) - 1))
        new = [kept[index][0], *data.draw(ROW)[1:]]
        changed = [*kept[:index], new, *kept[index + 1 :]]
        assert _kept_patched(text, [new]) == _one_a_row(changed)
    assert (
        _kept_patched(text, [["records/incidents/absent/.yaml", "", "", None, None, None]]) is None
    )
