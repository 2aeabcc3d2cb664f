"""The `isg` command line: thin commands over the library.

Commands read the clock and the environment and decide exit codes (0 clean, 1 findings or
late, 2 usage or unreadable registry); everything else is in the library.
"""

from __future__ import annotations

from isg.cli.approvals import approvals_group, check_command
from isg.cli.common import cli
from isg.cli.notify import notify_command
from isg.cli.registry import (
    codeowners_command,
    fmt_command,
    intake_command,
    new_command,
    privacy_scan_command,
    validate_command,
)
from isg.cli.reports import fees_command, release_group, report_group
from isg.cli.site import build_command, serve_command, site_group
from isg.cli.sla import priority_command, sla_group

__all__ = [
    "approvals_group",
    "build_command",
    "check_command",
    "cli",
    "codeowners_command",
    "fees_command",
    "fmt_command",
    "intake_command",
    "main",
    "new_command",
    "notify_command",
    "priority_command",
    "privacy_scan_command",
    "release_group",
    "report_group",
    "serve_command",
    "site_group",
    "sla_group",
    "validate_command",
]


def main() -> None:
    cli(prog_name="isg")
