"""What may be published: records not marked internal, minus internal and personal fields.

The schemas mark fields with `x-isg-internal` (members' notes) and `x-isg-personal` (e-mail
addresses, who reported an incident). The public build drops internal records and those
fields; the members' build (`--internal`) keeps everything.
"""

from __future__ import annotations

import json
from typing import Any

from isg.model import Record
from isg.records import Registry
from isg.safe_yaml import JsonPath
from isg.schemas import SchemaSet, private_paths


def is_public(record: Record) -> bool:
    return bool(record.data.get("visibility", "public") != "internal")


def _drop(data: dict[str, Any], path: JsonPath) -> None:
    target: Any = data
    for part in path[:-1]:
        target = target[part]
    if isinstance(target, dict):
        target.pop(path[-1], None)
    elif isinstance(target, list) and isinstance(path[-1], int):
        target[path[-1]] = None


def publishable(
    registry: Registry, schemas: SchemaSet, *, internal: bool
) -> dict[str, dict[str, Any]]:
    """Record data by path, redacted for the public unless `internal`.

    Only a record with something to redact is copied; the others' data is shared with the
    registry (nothing downstream changes it), which halves the site build's memory."""
    result: dict[str, dict[str, Any]] = {}
    for record in sorted(registry.records, key=lambda r: r.path):
        if not internal and not is_public(record):
            continue
        data = record.data
        paths = [] if internal else private_paths(record, schemas)
        if paths:
            # A deep copy; the data is plain JSON types, and json's C code copies it faster.
            data = json.loads(json.dumps(data))
            for path in sorted(paths, key=len, reverse=True):
                _drop(data, path)
        result[record.path] = data
    return result
