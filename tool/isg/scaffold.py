"""`isg new`: a new record from its kind's template, with a fresh ID, written atomically."""

from __future__ import annotations

import random
from datetime import datetime
from importlib import resources
from pathlib import Path
from string import Template

from isg.errors import UsageError
from isg.ids import new_id
from isg.model import Kind
from isg.records import record_path, write_atomic


def template_text(kind: Kind) -> str:
    """The template shipped for `kind` (placeholders are `<REPLACE: ...>`)."""
    return resources.files("isg").joinpath(f"templates/{kind.name}.yaml").read_text("utf-8")


def new_record(
    root: Path,
    kind: Kind,
    *,
    now: datetime,
    record_id: str | None = None,
    rng: random.Random | None = None,
) -> Path:
    """Write a new record of `kind` and return its path; never overwrites an existing file."""
    if record_id is None:
        if kind.id_prefix is None:
            raise UsageError(f"a {kind.name} is named by its natural key: give --id")
        record_id = new_id(kind.id_prefix, now=now, rng=rng)
    elif "/" in record_id or record_id.startswith(".") or not record_id:
        raise UsageError(f"'{record_id}' cannot be a record id")
    text = Template(template_text(kind)).substitute(
        id=record_id,
        now=now.isoformat(timespec="seconds"),
        today=now.date().isoformat(),
        year=now.year,
    )
    path = root / record_path(kind, record_id)
    try:
        write_atomic(path, text, exclusive=True)
    except FileExistsError:
        raise UsageError(f"{record_path(kind, record_id)} already exists") from None
    return path
