"""Issue forms into records: `isg intake --event FILE`.

GitHub renders an issue form as `### <label>`, a blank line, the value, a blank line, for each
field in the form's order; an empty optional field reads `_No response_`. The parser reads the
body against the form's own labels, in order. Every field but the last is a dropdown, a
checkbox list or a one-line input, which cannot contain a line break, so no field's text can
fake the heading of a later one; the only free text area comes last. Values are then checked
against the registry (a known State, known CIs) and the privacy guard before anything is
written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from isg.errors import IsgError
from isg.privacy import scan_text

NO_RESPONSE = "_No response_"
FORM_BY_LABEL = {"incident": "incident.yml", "rfc": "rfc.yml"}
MAX_BODY = 65_536


class IntakeError(IsgError):
    """The issue cannot become a record (and nothing was written)."""


@dataclass(frozen=True)
class FormField:
    id: str
    label: str
    type: str


def load_form(path: Path) -> list[FormField]:
    """The fields of an issue form, in order (markdown blocks have no value)."""
    try:
        form = yaml.safe_load(path.read_text(encoding="utf-8"))
        return [
            FormField(item["id"], item["attributes"]["label"], item["type"])
            for item in form["body"]
            if item["type"] != "markdown"
        ]
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise IntakeError(f"cannot read the issue form {path}: {exc}") from None


def parse_form_body(body: str | None, fields: Sequence[FormField]) -> dict[str, str | None]:
    """Field ID -> value (None for `_No response_`), read in the form's order."""
    if body is None:
        raise IntakeError("the issue has no body: it was not written with the issue form")
    if len(body) > MAX_BODY:
        raise IntakeError(f"the issue body is longer than {MAX_BODY} characters")
    text = "\n" + body.replace("\r\n", "\n").replace("\r", "\n")
    positions = []
    cursor = 0
    for field in fields:
        heading = f"\n### {field.label}\n"
        found = text.find(heading, cursor)
        if found < 0:
            raise IntakeError(f"the field '{field.label}' is missing: use the issue form")
        positions.append((found, found + len(heading)))
        cursor = found + len(heading)
    values: dict[str, str | None] = {}
    for index, field in enumerate(fields):
        start = positions[index][1]
        end = positions[index + 1][0] if index + 1 < len(fields) else len(text)
        value = text[start:end].strip()
        if field.type != "textarea" and field.type != "checkboxes" and "\n" in value:
            raise IntakeError(f"the field '{field.label}' must be a single line")
        values[field.id] = None if value in ("", NO_RESPONSE) else value
    return values


def _choice(value: str | None, label: str) -> str:
    if not value:
        raise IntakeError(f"'{label}' is required")
    return value.split(":", 1)[0].strip()


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _ticked(value: str | None) -> list[bool]:
    return [
        line.lower().startswith("- [x]")
        for line in (value or "").splitlines()
        if line.startswith("- [")
    ]


def record_from_issue(
    issue: Mapping[str, Any],
    kind: str,
    values: Mapping[str, str | None],
    *,
    record_id: str,
    known: Mapping[str, set[str]],
) -> dict[str, Any]:
    """The record data for an issue written with the `kind` form (checked, not yet written)."""
    title = str(issue.get("title") or "").removeprefix("[Incident]").removeprefix("[RfC]").strip()
    if not title:
        raise IntakeError("the issue has no title")
    reported = str(issue.get("created_at"))
    try:
        datetime.fromisoformat(reported)
    except ValueError:
        raise IntakeError(f"created_at {reported!r} is not a time") from None
    cis = _list(values.get("cis"))
    unknown = [ci for ci in cis if ci not in known["ci"]]
    if unknown:
        raise IntakeError(f"unknown configuration items: {', '.join(unknown)}")
    description = (values.get("description") or "").strip()
    description += f"\n\nReported through GitHub issue #{issue.get('number')}.\n"
    if kind == "incident":
        state = _choice(values.get("state"), "Reporting State")
        if state not in known["state"]:
            raise IntakeError(f"unknown State '{state}'")
        return {
            "id": record_id,
            "title": title,
            "description": description,
            "reporting_state": state,
            "channel": "github",
            "reported_at": reported,
            "impact": _choice(values.get("impact"), "Impact"),
            "urgency": _choice(values.get("urgency"), "Urgency"),
            "affected_cis": cis,
            "affected_states": [state],
            "status": "reported",
            "visibility": "public",
        }
    requester = _choice(values.get("requester"), "Requesting State or organisation")
    if requester not in known["state"] | known["organisation"]:
        raise IntakeError(f"unknown requester '{requester}'")
    scope = _choice(values.get("scope"), "Scope")
    data: dict[str, Any] = {
        "id": record_id,
        "title": title,
        "description": description,
        "requester": requester,
        "submitted_at": reported,
        "scope": scope,
        "type": "normal",
        "status": "submitted",
        "cis": cis,
        "visibility": "public",
    }
    if scope == "local":
        ticks = (_ticked(values.get("criteria")) + [False] * 3)[:3]
        patch = values.get("patch") or ""
        if not patch.startswith("https://"):
            raise IntakeError("a local change needs an https link to its proposed patch")
        data["local_change"] = {
            "no_global_impact": ticks[0],
            "no_impact_on_other_states": ticks[1],
            "no_maintenance_impact": ticks[2],
            "patch": patch,
        }
        if all(ticks):
            data["type"] = "service-request"
    return data


def privacy_problems(issue: Mapping[str, Any], values: Mapping[str, str | None]) -> list[str]:
    """Where the issue looks like it holds personal data (field and kind, never the value)."""
    texts = {"title": str(issue.get("title") or ""), **{k: v or "" for k, v in values.items()}}
    return [
        f"{field}: looks like a {hit.kind}"
        for field, text in texts.items()
        for hit in scan_text(text)
    ]
