"""Generate a registry of N incidents, with proportional RfCs, problems, known errors and
knowledge articles, valid against the schemas, and a realistic git history (records created
when reported and updated when their milestones were reached), through `git fast-import`.

    python benchmarks/generate.py OUT --incidents 50000

The embedded records are the templates: governance records are copied; incidents and the
others are cloned with new IDs and their times shifted back week by week over ten years.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tool"))

from isg.canonical import canonical_text  # noqa: E402 - after the path set-up
from isg.ids import CROCKFORD  # noqa: E402
from isg.model import KIND_BY_NAME  # noqa: E402
from isg.records import parse_registry, read_record_files  # noqa: E402
from isg.schemas import load_schemas  # noqa: E402

COPIED = (
    "state",
    "organisation",
    "member",
    "service-levels",
    "ci",
    "budget",
    "governance",
    "release",
    "improvement",
)
SHIFTED_KEYS = (
    "reported_at",
    "identified_at",
    "recorded_at",
    "submitted_at",
    "updated_at",
    "at",
    "start",
    "end",
    "assessed_at",
    "implemented_at",
    "reviewed_at",
    "retrospective_review",
    "raised_at",
)
MILESTONE_KEYS = (
    "registration_confirmed",
    "ecab_informed",
    "ecab_meeting",
    "initial_documentation",
    "analysis",
    "workaround",
    "permanent_solution",
    "knowledge_documented",
    "closed",
)


def counter_id(prefix: str, year: int, number: int) -> str:
    chars = ""
    for _ in range(5):
        number, digit = divmod(number, 32)
        chars = CROCKFORD[digit] + chars
    return f"{prefix}-{year}-{chars}"


def shift(value: Any, delta: timedelta) -> Any:
    """Every timestamp inside `value` moved back by `delta` (dates stay)."""
    if isinstance(value, dict):
        return {
            k: (
                _shift_time(v, delta)
                if k in SHIFTED_KEYS or k in MILESTONE_KEYS
                else shift(v, delta)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [shift(v, delta) for v in value]
    return value


def _shift_time(value: Any, delta: timedelta) -> Any:
    if isinstance(value, str):
        try:
            return (datetime.fromisoformat(value) - delta).isoformat()
        except ValueError:
            return value  # a text field that shares a milestone's name (`workaround`)
    return shift(value, delta)


def clone(kind: str, template: dict[str, Any], number: int, weeks: int) -> dict[str, Any]:
    data = shift(copy.deepcopy(template), timedelta(weeks=weeks))
    stamp = next((data[k] for k in SHIFTED_KEYS if isinstance(data.get(k), str)), None)
    year = datetime.fromisoformat(stamp).year if stamp else 2026
    data["id"] = counter_id(KIND_BY_NAME[kind].id_prefix or "X", year, number)
    for key in (
        "problem",
        "problems",
        "incidents",
        "known_errors",
        "rfcs",
        "fix_rfc",
        "adopts",
        "release",
    ):
        data.pop(key, None)  # references are not cloned; the copies stand alone
    if kind == "rfc" and data.get("status") == "scheduled":
        data["status"] = "approved"
    if kind == "rfc" and data.get("scope") == "local":
        data["local_change"]["patch"] = "https://example.org/local.patch"
    if kind == "known-error":
        data["problem"] = template["problem"]
    return data


RECENT_WEEKS = 13
FIRST_VERSION_MILESTONES = ("registration_confirmed", "ecab_informed")


def _as_registered(data: dict[str, Any]) -> dict[str, Any]:
    """The incident as first committed: registered, with only its first milestones."""
    first = copy.deepcopy(data)
    first["status"] = "registered"
    milestones = first.get("milestones") or {}
    first["milestones"] = {k: v for k, v in milestones.items() if k in FIRST_VERSION_MILESTONES}
    for key in ("pauses", "reclassifications", "resolution", "workaround", "root_cause"):
        first.pop(key, None)
    return first


def _last_milestone(data: dict[str, Any]) -> str | None:
    later = [
        v
        for k, v in (data.get("milestones") or {}).items()
        if k not in FIRST_VERSION_MILESTONES and isinstance(v, str)
    ]
    return max(later, key=datetime.fromisoformat) if later else None


def generate(out: Path, incidents: int) -> None:
    registry = parse_registry(read_record_files(ROOT))
    schemas = load_schemas(ROOT)
    if out.exists():
        shutil.rmtree(out)
    shutil.copytree(ROOT / "schemas", out / "schemas")
    shutil.copytree(ROOT / "site", out / "site")
    files: list[tuple[str, str, str]] = []  # (path, text, commit time)
    base_time = "2016-09-01T09:00:00+00:00"
    for kind in COPIED:
        for record in registry.of_kind(kind):
            data = {k: v for k, v in record.data.items() if k not in ("rfcs", "incidents")}
            if kind == "service-levels":  # ten years of incidents, all under a policy
                data["effective_from"] = "2015-01-01"
            files.append(
                (
                    record.path,
                    canonical_text(record.kind, data, schemas.for_kind(record.kind)),
                    base_time,
                )
            )
    for problem in registry.of_kind("problem"):  # known errors point at these
        files.append(
            (
                problem.path,
                canonical_text(
                    problem.kind, {**problem.data, "incidents": []}, schemas.for_kind(problem.kind)
                ),
                base_time,
            )
        )
    counts = {
        "incident": incidents,
        "rfc": incidents // 10,
        "problem": incidents // 50,
        "known-error": incidents // 100,
        "knowledge": incidents // 50,
    }
    for kind, count in counts.items():
        templates = [r for r in registry.of_kind(kind)]
        # As in a real registry, incidents more than a quarter old are closed; the open ones
        # are the recent ones.
        closed = [r for r in templates if r.data.get("status") == "closed"] or templates
        record_kind = KIND_BY_NAME[kind]
        for number in range(count):
            weeks = 1 + number * 520 // max(count, 1)
            pool = closed if kind == "incident" and weeks > RECENT_WEEKS else templates
            template = pool[number % len(pool)]
            data = clone(kind, template.data, number, weeks=weeks)
            path = f"records/{record_kind.directory}/{data['id']}.yaml"
            if kind == "incident":
                data["visibility"] = "public"
                first = _as_registered(data)  # the helpdesk's first version, then the rest
                text = canonical_text(record_kind, first, schemas.for_kind(record_kind))
                files.append((path, text, first["reported_at"]))
                finished = _last_milestone(data)
                if finished:
                    text = canonical_text(record_kind, data, schemas.for_kind(record_kind))
                    files.append((path, text, finished))
                continue
            text = canonical_text(record_kind, data, schemas.for_kind(record_kind))
            when = next((data[k] for k in SHIFTED_KEYS if isinstance(data.get(k), str)), base_time)
            files.append((path, text, when))
    for path, text, _ in files:  # in order: an incident's last version is written last
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _history(out, files)


def _history(out: Path, files: list[tuple[str, str, str]]) -> None:
    """One commit per month with the records written or updated that month (fast-import);
    an incident is written when reported and updated when its later milestones are."""
    by_month: dict[str, list[tuple[str, str]]] = {}
    for path, text, when in sorted(files, key=lambda f: datetime.fromisoformat(f[2])):
        month = datetime.fromisoformat(when).astimezone(UTC).strftime("%Y-%m")
        by_month.setdefault(month, []).append((path, text))
    subprocess.run(["git", "init", "-q", "-b", "main", str(out)], check=True)
    stream = []
    previous = None
    for mark, month in enumerate(sorted(by_month), start=1):
        stamp = int(datetime.fromisoformat(f"{month}-28T12:00:00+00:00").timestamp())
        message = f"Records of {month}".encode()
        stream.append(b"commit refs/heads/main\n")
        stream.append(f"mark :{mark}\n".encode())
        stream.append(f"committer Bench <bench@example.org> {stamp} +0000\n".encode())
        stream.append(f"data {len(message)}\n".encode() + message + b"\n")
        if previous:
            stream.append(f"from :{previous}\n".encode())
        for path, text in by_month[month]:
            data = text.encode()
            stream.append(f"M 100644 inline {path}\ndata {len(data)}\n".encode() + data + b"\n")
        previous = mark
    subprocess.run(["git", "fast-import", "--quiet"], input=b"".join(stream), cwd=out, check=True)
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=out, check=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--incidents", type=int, default=50_000)
    args = parser.parse_args()
    generate(args.out, args.incidents)
    print(f"{args.out}: {args.incidents} incidents")


if __name__ == "__main__":
    main()
