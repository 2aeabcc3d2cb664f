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
from datetime import datetime, timedelta
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
        record_kind = KIND_BY_NAME[kind]
        for number in range(count):
            template = templates[number % len(templates)]
            data = clone(kind, template.data, number, weeks=1 + number * 520 // max(count, 1))
            if kind == "incident":
                data["visibility"] = "public"
            text = canonical_text(record_kind, data, schemas.for_kind(record_kind))
            when = next((data[k] for k in SHIFTED_KEYS if isinstance(data.get(k), str)), base_time)
            files.append((f"records/{record_kind.directory}/{data['id']}.yaml", text, when))
    for path, text, _ in files:
        target = out / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    _history(out, files)


def _history(out: Path, files: list[tuple[str, str, str]]) -> None:
    """One commit per month: the records first written that month (fast-import)."""
    by_month: dict[str, list[tuple[str, str]]] = {}
    for path, text, when in files:
        by_month.setdefault(when[:7], []).append((path, text))
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
