"""Reporters for validation results: plain text, JSON, and GitHub workflow annotations."""

from __future__ import annotations

import json
from collections.abc import Callable

from isg.model import KINDS, Finding
from isg.validation import ValidationResult

Reporter = Callable[[ValidationResult], str]


def _location(finding: Finding) -> str:
    if finding.line:
        return f"{finding.path}:{finding.line}:{finding.column}"
    return finding.path


def summary_line(result: ValidationResult) -> str:
    """`312 records (7 states, 4 organisations, ...): 0 problems`."""
    total = sum(result.records_by_kind.values())
    parts = [
        f"{result.records_by_kind[kind.name]} {kind.directory}"
        for kind in KINDS
        if result.records_by_kind[kind.name]
    ]
    problems = len(result.findings)
    noun = "problem" if problems == 1 else "problems"
    return f"{total} records ({', '.join(parts)}): {problems} {noun}"


def report_text(result: ValidationResult) -> str:
    lines = []
    for finding in result.findings:
        where = f"{finding.json_path}: " if finding.json_path else ""
        lines.append(f"{_location(finding)}: {where}{finding.message}")
        if finding.hint:
            lines.append(f"  hint: {finding.hint}")
    lines.append(summary_line(result))
    return "\n".join(lines) + "\n"


def report_json(result: ValidationResult) -> str:
    return json.dumps([f.as_dict() for f in result.findings], indent=2, sort_keys=True) + "\n"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


def report_github(result: ValidationResult) -> str:
    """`::error file=...,line=...,col=...::message` lines, then the summary as a notice."""
    lines = []
    for finding in result.findings:
        props = [f"file={_escape_property(finding.path)}"]
        if finding.line:
            props += [f"line={finding.line}", f"col={finding.column}"]
        props.append(f"title={_escape_property('isg validate: ' + finding.rule)}")
        where = f"{finding.json_path}: " if finding.json_path else ""
        hint = f" (hint: {finding.hint})" if finding.hint else ""
        lines.append(f"::error {','.join(props)}::{_escape_data(where + finding.message + hint)}")
    lines.append(f"::notice title=isg validate::{_escape_data(summary_line(result))}")
    return "\n".join(lines) + "\n"


REPORTER_BY_NAME: dict[str, Reporter] = {
    "text": report_text,
    "json": report_json,
    "github": report_github,
}
