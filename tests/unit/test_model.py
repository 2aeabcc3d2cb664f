"""Record values: what a record's ID is, worked out once."""

from __future__ import annotations

from isg.model import KIND_BY_NAME, Record
from isg.safe_yaml import Document


def record(data: dict[str, object]) -> Record:
    return Record(KIND_BY_NAME["incident"], "records/incidents/X.yaml", Document(data))


def test_a_record_id_is_its_string_id_else_empty_and_is_worked_out_once() -> None:
    found = record({"id": "INC-2026-00001"})
    assert found.id == "INC-2026-00001"
    found.data["id"] = "changed"  # data never changes in a run: the first answer is kept
    assert found.id == "INC-2026-00001"
    assert record({"id": 7}).id == "" and record({}).id == ""
    assert record({"id": "A"}) == record({"id": "B"})  # kind and path make a record equal
    assert Record.id.name == "id"  # the descriptor itself, asked on the class
