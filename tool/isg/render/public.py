"""What may be published: records not marked internal, minus internal and personal fields.

The schemas mark fields with `x-isg-internal` (members' notes) and `x-isg-personal` (e-mail
addresses, who reported an incident). The public build drops internal records and those
fields; the members' build (`--internal`) keeps everything.
"""

from __future__ import annotations

from typing import Any

from isg.model import Record
from isg.records import Registry
from isg.safe_yaml import JsonPath
from isg.schemas import SchemaSet, private_paths


def is_public(record: Record) -> bool:
    return bool(record.data.get("visibility", "public") != "internal")


def _without(data: dict[str, Any], paths: list[JsonPath]) -> dict[str, Any]:
    """`data` without the values at `paths` (a value in a list becomes None): only the
    containers on the way to them are copied, the rest is shared (a deep copy of each of
    50,000 incidents, for their reporter alone, took ~1 s of every site build)."""
    copied: set[int] = set()

    def own(container: Any) -> Any:
        mine = dict(container) if isinstance(container, dict) else list(container)
        copied.add(id(mine))
        return mine

    top: dict[str, Any] = own(data)
    for path in sorted(paths, key=len, reverse=True):  # deeper first: no index moves
        target: Any = top
        for part in path[:-1]:
            child = target[part]
            if id(child) not in copied:
                child = target[part] = own(child)
            target = child
        if isinstance(target, dict):
            target.pop(path[-1], None)
        elif isinstance(target, list) and isinstance(path[-1], int):
            target[path[-1]] = None
    return top


def publishable(
    registry: Registry, schemas: SchemaSet, *, internal: bool
) -> dict[str, dict[str, Any]]:
    """Record data by path, redacted for the public unless `internal`.

    Only what holds something to redact is copied; the rest of the data is shared with the
    registry (nothing downstream changes it), which halves the site build's memory."""
    result: dict[str, dict[str, Any]] = {}
    for record in sorted(registry.records, key=lambda r: r.path):
        if not internal and not is_public(record):
            continue
        data = record.data
        paths = [] if internal else private_paths(record, schemas)
        if paths:
            data = _without(data, paths)
        result[record.path] = data
    return result
