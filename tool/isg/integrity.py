"""Rules across a record's fields and across records: IDs, references, times, calendars.

Two sorts of rule, so that validation can remember and share out work (see summaries.py):

* `RECORD_RULES`: `(record, schemas, allowed_emails) -> Iterator[Finding]`, about one record
  on its own. Their findings depend only on the file's bytes, the schemas and the members'
  e-mail addresses, so they are computed once per file content (and in parallel).
* `REGISTRY_RULES`: `(registry, summaries, now) -> Iterator[Finding]`, across records. They
  read the few kinds whose data is kept (`summaries.DATA_KINDS`) as a `Registry`, and the
  summary of every record (ID, references, latest time) for the bulk kinds.

Governance composition lives in `governance`, status changes in `lifecycle`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any
from zoneinfo import available_timezones

from isg.model import KIND_BY_NAME, Finding, Record, format_json_path, record_finding
from isg.privacy import line_and_column, scan_text
from isg.records import Registry, file_stem, record_path
from isg.schemas import SchemaSet, record_fields
from isg.times import parse_date, parse_time

if TYPE_CHECKING:
    from isg.summaries import SummaryIndex

PLACEHOLDER = "<REPLACE"
# A solution is either of these; the first one reached meets the 'solution' milestone.
SOLUTIONS = ("workaround", "permanent_solution")
# Milestones that must follow one another (each one no earlier than those before it).
MILESTONE_CHAIN = ("registration_confirmed", "initial_documentation", "analysis")


def check_ids(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """IDs are unique within a kind and equal to the file name."""
    for summary in summaries.misnamed():
        kind = KIND_BY_NAME[summary.kind]
        yield summaries.finding(
            summary,
            ("id",),
            f"id '{summary.id}' does not match the file name '{file_stem(summary.path)}.yaml'",
            rule="id",
            hint=f"rename the file to {record_path(kind, summary.id)} or fix the id",
        )
    for summary in summaries.duplicated():
        yield summaries.finding(
            summary, ("id",), f"duplicate {summary.kind} id '{summary.id}'", rule="id"
        )


def check_references(
    registry: Registry, summaries: SummaryIndex, now: datetime
) -> Iterator[Finding]:
    """Every `x-isg-ref` value names an existing record of an allowed kind.

    A reference to a file that exists but could not be parsed is not reported again: the
    parse error already is. The index hands over only the references that name no record of
    a kind they allow (of 200,000 references at 50,000 incidents, normally none).
    """
    for summary, (path, value, allowed) in summaries.unresolved():
        if any(summaries.is_unreadable(record_path(KIND_BY_NAME[k], value)) for k in allowed):
            continue
        elsewhere = [k for k in KIND_BY_NAME if k not in allowed and summaries.has_id(k, value)]
        wanted = " or ".join(allowed)
        hint = f"'{value}' is the ID of a {elsewhere[0]} record" if elsewhere else ""
        yield summaries.finding(
            summary, tuple(path), f"unknown {wanted} '{value}'", rule="reference", hint=hint
        )


def record_references(
    record: Record, schemas: SchemaSet
) -> list[tuple[tuple[str | int, ...], str, tuple[str, ...]]]:
    """(path, value, allowed kinds) of every `x-isg-ref` value of `record`."""
    return record_fields(record, schemas).references


def check_placeholders(
    record: Record, schemas: SchemaSet, allowed: frozenset[str]
) -> Iterator[Finding]:
    """A template placeholder left as `isg new` wrote it is an error."""
    for path in record_fields(record, schemas).placeholders:
        yield record_finding(
            record,
            path,
            "template placeholder not filled in",
            rule="placeholder",
            hint="replace the <REPLACE: ...> text with the real value",
        )


def check_not_future(
    registry: Registry, summaries: SummaryIndex, now: datetime
) -> Iterator[Finding]:
    """Every timestamp records something that happened, so none may lie after `now`.

    Each summary keeps its latest time; only a record whose latest time is after `now` is
    read again to say which timestamps are.
    """
    for summary in summaries.later_than(now):
        record = summaries.record(summary)
        yield from future_times(record, summaries.schemas, now)


def future_times(record: Record, schemas: SchemaSet, now: datetime) -> Iterator[Finding]:
    for path, value, when in record_times(record, schemas):
        if when > now:
            yield record_finding(
                record,
                path,
                f"time {value} is in the future",
                rule="time",
                hint="timestamps record what already happened",
            )


def record_times(
    record: Record, schemas: SchemaSet
) -> list[tuple[tuple[str | int, ...], str, datetime]]:
    """(path, text, instant) of every date-time value of `record`."""
    return record_fields(record, schemas).times


def check_incident_times(
    record: Record, schemas: SchemaSet, allowed: frozenset[str]
) -> Iterator[Finding]:
    """Milestones and pauses are not before reported_at and follow the document's order."""
    if record.kind.name == "incident":
        reported = parse_time(record.data.get("reported_at"))
        if reported is None:
            return  # the schema reports it
        yield from _check_pauses(record, reported)
        milestones = record.data.get("milestones")
        if not isinstance(milestones, dict):
            return
        times = {key: t for key, value in milestones.items() if (t := parse_time(value))}
        for key, when in times.items():
            if when < reported:
                yield _ms(
                    record, key, f"{key} is before reported_at ({record.data['reported_at']})"
                )
        previous: str | None = None
        for key in MILESTONE_CHAIN:
            if key in times:
                if previous and times[key] < times[previous]:
                    yield _ms(record, key, f"{key} is before {previous}")
                previous = key
        solved = [times[k] for k in SOLUTIONS if k in times]
        if (
            "knowledge_documented" in times
            and solved
            and times["knowledge_documented"] < min(solved)
        ):
            yield _ms(record, "knowledge_documented", "knowledge_documented is before the solution")
        if "closed" in times:
            for key, when in times.items():
                if when > times["closed"]:
                    yield _ms(record, key, f"{key} is after closed")


def _ms(record: Record, key: str, message: str) -> Finding:
    return record_finding(record, ("milestones", key), message, rule="time")


def _check_pauses(record: Record, reported: datetime) -> Iterator[Finding]:
    pauses = record.data.get("pauses")
    if not isinstance(pauses, list):
        return
    previous_end: datetime | None = None
    for index, pause in enumerate(pauses):
        if not isinstance(pause, dict):
            continue
        start, end = parse_time(pause.get("start")), parse_time(pause.get("end"))
        if start and start < reported:
            yield record_finding(
                record, ("pauses", index, "start"), "pause starts before reported_at", rule="time"
            )
        if start and end and end <= start:
            yield record_finding(
                record, ("pauses", index, "end"), "pause ends before it starts", rule="time"
            )
        if start and previous_end and start < previous_end:
            yield record_finding(
                record,
                ("pauses", index, "start"),
                "pauses overlap or are out of order",
                rule="time",
            )
        if end is None and index != len(pauses) - 1:
            yield record_finding(
                record, ("pauses", index), "only the last pause may still be open", rule="time"
            )
        previous_end = end


@cache
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


@cache
def _holiday_countries() -> dict[str, list[str]]:
    import holidays  # 45 ms to import; only calendars need it

    return {code: list(subs) for code, subs in holidays.list_supported_countries().items()}


def check_calendars(
    record: Record, schemas: SchemaSet, allowed: frozenset[str]
) -> Iterator[Finding]:
    """Time zones exist, holiday countries are known, working-hour ranges are ordered."""
    if record.kind.name == "state":
        calendar = record.data.get("calendar")
        if not isinstance(calendar, dict):
            return
        zone = calendar.get("timezone")
        if isinstance(zone, str) and zone not in _zones():
            yield record_finding(
                record,
                ("calendar", "timezone"),
                f"unknown IANA time zone '{zone}'",
                rule="calendar",
                hint="e.g. 'Europe/Paris', 'America/Toronto'",
            )
        yield from _check_holidays(record, calendar.get("holidays"))
        ranges = calendar.get("working_hours")
        if isinstance(ranges, list):
            yield from _check_ranges(record, ("calendar", "working_hours"), ranges)
        for field in ("closures", "extra_working_days"):
            for index, entry in enumerate(calendar.get(field) or []):
                if isinstance(entry, dict) and isinstance(entry.get("hours"), list):
                    yield from _check_ranges(
                        record, ("calendar", field, index, "hours"), entry["hours"]
                    )


def _check_holidays(record: Record, spec: Any) -> Iterator[Finding]:
    if not isinstance(spec, dict) or not isinstance(spec.get("country"), str):
        return
    country = spec["country"]
    known = _holiday_countries()
    if country not in known:
        yield record_finding(
            record,
            ("calendar", "holidays", "country"),
            f"the holidays package has no calendar for '{country}'",
            rule="calendar",
        )
        return
    sub = spec.get("subdivision")
    if isinstance(sub, str) and sub not in known[country]:
        yield record_finding(
            record,
            ("calendar", "holidays", "subdivision"),
            f"unknown subdivision '{sub}' of {country}",
            rule="calendar",
            hint="one of: " + ", ".join(known[country][:30]),
        )


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _check_ranges(
    record: Record, path: tuple[str | int, ...], ranges: list[Any]
) -> Iterator[Finding]:
    previous_close = -1
    for index, text in enumerate(ranges):
        if not isinstance(text, str) or "-" not in text:
            continue
        start_text, end_text = text.split("-", 1)
        try:
            start, end = _minutes(start_text), _minutes(end_text)
        except ValueError:
            continue  # the schema pattern reports it
        if end <= start:
            yield record_finding(
                record, (*path, index), f"range {text} ends before it starts", rule="calendar"
            )
        elif start < previous_close:
            yield record_finding(
                record,
                (*path, index),
                f"range {text} overlaps or precedes the one before",
                rule="calendar",
            )
        previous_close = max(previous_close, end)


def check_members(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """GitHub ids and logins are unique: reviews are matched to members by them."""
    for field in ("id", "login"):
        owners: dict[Any, Record] = {}
        for record in registry.of_kind("member"):
            github = record.data.get("github")
            value = github.get(field) if isinstance(github, dict) else None
            if value is None:
                continue
            key = value.lower() if isinstance(value, str) else value
            if key in owners:
                yield record_finding(
                    record,
                    ("github", field),
                    f"GitHub {field} {value!r} is also used by member '{owners[key].id}'",
                    rule="member",
                )
            else:
                owners[key] = record


def check_rfcs(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """Local changes come from a State, answer the three criteria, and ship their patch."""
    for record in registry.of_kind("rfc"):
        data = record.data
        local = data.get("local_change")
        if data.get("scope") == "local" and not registry.get("state", str(data.get("requester"))):
            yield record_finding(
                record, ("requester",), "a local change is requested by a State", rule="rfc"
            )
        if not isinstance(local, dict):
            continue
        if data.get("scope") != "local":
            yield record_finding(
                record,
                ("local_change",),
                "local_change is only for RfCs with scope: local",
                rule="rfc",
            )
        criteria = ("no_global_impact", "no_impact_on_other_states", "no_maintenance_impact")
        unmet = [c for c in criteria if local.get(c) is False]
        if data.get("type") == "service-request" and unmet:
            yield record_finding(
                record,
                ("type",),
                "a local change that fails " + ", ".join(unmet) + " is not a service request",
                rule="rfc",
                hint="it must be handled as a normal change by the CAB",
            )
        patch = local.get("patch")
        local_patch = isinstance(patch, str) and not patch.startswith("https://")
        if local_patch and f"records/rfcs/{patch}" not in registry.attachments:
            yield record_finding(
                record,
                ("local_change", "patch"),
                f"patch file records/rfcs/{patch} does not exist",
                rule="rfc",
            )


# What the rules across records read of each RfC (check_rfcs, check_releases): the SQLite
# store keeps only these fields of the 5,000 RfCs of a 50,000-incident registry (decoding them
# whole was 0.1 s of every run). tests/unit/test_summary_store.py holds the rules to the same
# findings on whole and on kept data; a rule that reads another field of an RfC adds it here.
KEPT_FIELDS: dict[str, tuple[str, ...]] = {
    "rfc": ("id", "scope", "requester", "local_change", "type", "release"),
}


def check_releases(registry: Registry, summaries: SummaryIndex, now: datetime) -> Iterator[Finding]:
    """An RfC scheduled into a release is listed by it, and only operating States install."""
    for record in registry.of_kind("rfc"):
        release = registry.get("release", str(record.data.get("release")))
        rfcs = release.data.get("rfcs") if release else None
        if release and isinstance(rfcs, list) and record.id not in rfcs:
            yield record_finding(
                record,
                ("release",),
                f"release {release.id} does not list this RfC",
                rule="release",
                hint=f"add {record.id} to rfcs in {release.path}",
            )
    for record in registry.of_kind("release"):
        released = parse_date(record.data.get("released_on"))
        for index, entry in enumerate(record.data.get("installations") or []):
            day = parse_date(entry.get("installed_on")) if isinstance(entry, dict) else None
            if day and (released is None or day < released):
                yield record_finding(
                    record,
                    ("installations", index, "installed_on"),
                    "installed before the release was released",
                    rule="release",
                )
            if not isinstance(entry, dict):
                continue
            state = registry.get("state", str(entry.get("state")))
            if state and state.data.get("role") != "operating":
                yield record_finding(
                    record,
                    ("installations", index, "state"),
                    f"{state.id} does not operate iSupport",
                    rule="release",
                )


def check_governance_rules(
    record: Record, schemas: SchemaSet, allowed: frozenset[str]
) -> Iterator[Finding]:
    """Every rule a governance record names exists, and `kinds` names real kinds."""
    if record.kind.name == "governance":
        data = record.data
        rules: dict[str, Any] = data["rules"] if isinstance(data.get("rules"), dict) else {}
        named: list[tuple[tuple[str | int, ...], Any]] = [
            (("default_rule",), data.get("default_rule"))
        ]
        for key, value in (data.get("kinds") or {}).items():
            if key not in KIND_BY_NAME:
                yield record_finding(
                    record,
                    ("kinds", key),
                    f"unknown record kind '{key}'",
                    rule="governance",
                    key=True,
                    hint="kinds are: " + ", ".join(KIND_BY_NAME),
                )
            named.append((("kinds", key), value))
        for key, value in (data.get("rfc_decisions") or {}).items():
            named.append((("rfc_decisions", key), value))
        for index, entry in enumerate(data.get("protected_paths") or []):
            if isinstance(entry, dict):
                named.append((("protected_paths", index, "rule"), entry.get("rule")))
        for path, name in named:
            if isinstance(name, str) and name not in rules:
                yield record_finding(
                    record,
                    path,
                    f"unknown rule '{name}'",
                    rule="governance",
                    hint="rules defined here: " + ", ".join(sorted(rules)),
                )


def member_emails(registry: Registry) -> set[str]:
    return {str(m.data["email"]) for m in registry.of_kind("member") if m.data.get("email")}


def check_privacy(record: Record, schemas: SchemaSet, allowed: frozenset[str]) -> Iterator[Finding]:
    """Free text that looks like personal or case data (see isg.privacy); never the value.

    `allowed`: the members' own e-mail addresses, which may appear.
    """
    for path, text in record_fields(record, schemas).free_text:
        for hit in scan_text(text, allowed=allowed):
            line_in_value, column = line_and_column(text, hit.start)
            where = record.document.position(path)
            if "\n" in text:  # a block scalar: its lines start below, indented by two
                key = record.document.position(path, key=True)
                line, column = where.line + line_in_value, key.column + 1 + column
            else:
                line, column = where.line, where.column + column
            yield Finding(
                path=record.path,
                line=line,
                column=column,
                message=f"looks like a {hit.kind} (value not shown)",
                json_path=format_json_path(path),
                rule="privacy",
                hint="no personal or case data in the registry: its history is public",
            )


def mentions_email(record: Record, schemas: SchemaSet) -> bool:
    """Whether any free text has an @ (only those records depend on the members' addresses)."""
    return any("@" in text for _, text in record_fields(record, schemas).free_text)


RecordRule = Callable[[Record, SchemaSet, frozenset[str]], Iterator[Finding]]
RegistryRule = Callable[[Registry, "SummaryIndex", datetime], Iterator[Finding]]

RECORD_RULES: tuple[RecordRule, ...] = (
    check_placeholders,
    check_incident_times,
    check_calendars,
    check_governance_rules,
    check_privacy,
)
REGISTRY_RULES: tuple[RegistryRule, ...] = (
    check_ids,
    check_references,
    check_not_future,
    check_members,
    check_rfcs,
    check_releases,
)
