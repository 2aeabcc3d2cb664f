"""`isg notify` against a real SMTP server (aiosmtpd on localhost): what is due is sent once."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes
from email.message import Message
from email.policy import default
from pathlib import Path
from typing import Any

import pytest

from conftest import FIXED_AT, REPO_ROOT, RunCli


class Inbox:
    """An aiosmtpd handler that keeps every message it receives."""

    def __init__(self) -> None:
        self.messages: list[tuple[list[str], Message]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=default)
        self.messages.append((list(envelope.rcpt_tos), message))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Inbox]:
    from aiosmtpd.controller import Controller

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setenv("ISG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("ISG_SMTP_PORT", str(port))
    monkeypatch.setenv("ISG_SMTP_TLS", "none")
    monkeypatch.setenv("ISG_MAIL_FROM", "helpdesk@example.org")
    yield inbox
    controller.stop()


def test_due_notifications_are_sent_once(run_cli: RunCli, smtp: Inbox, tmp_path: Path) -> None:
    ledger = tmp_path / "notified.json"
    first = run_cli("notify", "--at", FIXED_AT, "--ledger", str(ledger), "--repo", str(REPO_ROOT))
    assert first.exit_code == 0, first.output
    assert len(smtp.messages) == 24
    subjects = {m["Subject"]: (sorted(to), m) for to, m in smtp.messages}
    ecab_to, ecab = subjects[
        "[iSupport eCAB] Priority 1 incident INC-2026-7EVZM: All French users"
        " cannot log in since the certificate renewal"
    ]
    # On duty in November: the Permanent Bureau, the Service Provider and Brazil.
    assert ecab_to == [
        "br-delegate@example.org",
        "pb-coordinator@example.org",
        "sp-helpdesk-2@example.org",
        "sp-service-manager@example.org",
    ]
    assert ecab["From"] == "helpdesk@example.org"
    assert ecab["X-ISG-Notification"] == "ecab:INC-2026-7EVZM"
    assert "The eCAB must meet by telephone" in ecab.get_content()
    overdue_to, _ = subjects["[iSupport] Release 4.1.0 installation overdue in CA"]
    assert overdue_to == ["ca-delegate@example.org"]
    again = run_cli("notify", "--at", FIXED_AT, "--ledger", str(ledger), "--repo", str(REPO_ROOT))
    assert again.exit_code == 0
    assert again.stderr == "nothing to send\n"
    assert len(smtp.messages) == 24


def test_dry_run_sends_and_records_nothing(run_cli: RunCli, smtp: Inbox, tmp_path: Path) -> None:
    ledger = tmp_path / "notified.json"
    result = run_cli(
        "notify", "--dry-run", "--at", FIXED_AT, "--ledger", str(ledger), "--repo", str(REPO_ROOT)
    )
    assert result.stdout.splitlines()[0].startswith("would send ")
    assert smtp.messages == [] and not ledger.exists()


def test_missing_smtp_settings_are_a_usage_error(
    run_cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ISG_SMTP_HOST", raising=False)
    result = run_cli(
        "notify", "--at", FIXED_AT, "--ledger", str(tmp_path / "l.json"), "--repo", str(REPO_ROOT)
    )
    assert result.exit_code == 2
    assert result.stderr.startswith("isg: set ISG_SMTP_HOST")
