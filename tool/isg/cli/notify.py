"""`isg notify`: send the e-mails the records call for, once each."""

from __future__ import annotations

import os
import smtplib
import ssl
import sys
from datetime import timedelta
from pathlib import Path

import click

from isg.cli.common import cli, library_errors, load_registry, parse_at, registry_root, repo_option
from isg.errors import UsageError
from isg.notifications import (
    due_notifications,
    mail_environment,
    read_ledger,
    render_message,
    write_ledger,
)
from isg.schemas import load_schemas
from isg.sla.run import evaluate_registry


def _smtp() -> smtplib.SMTP:
    host = os.environ.get("ISG_SMTP_HOST")
    if not host:
        raise UsageError(
            "set ISG_SMTP_HOST (and ISG_SMTP_PORT, ISG_SMTP_TLS, ISG_SMTP_USER,"
            " ISG_SMTP_PASSWORD) or use --dry-run"
        )
    port = int(os.environ.get("ISG_SMTP_PORT", "587"))
    tls = os.environ.get("ISG_SMTP_TLS", "starttls")
    try:
        if tls == "ssl":
            server: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=30, context=ssl.create_default_context()
            )
        else:
            server = smtplib.SMTP(host, port, timeout=30)
            if tls == "starttls":
                server.starttls(context=ssl.create_default_context())
        user = os.environ.get("ISG_SMTP_USER")
        if user:
            server.login(user, os.environ.get("ISG_SMTP_PASSWORD", ""))
    except (OSError, smtplib.SMTPException) as exc:
        raise UsageError(f"cannot reach the SMTP server {host}:{port}: {exc}") from None
    return server


@cli.command("notify")
@click.option("--at", metavar="ISO", help="Work out what is due at this time (default now).")
@click.option(
    "--since",
    metavar="ISO",
    help="Registrations confirmed before this are not announced (default: 7 days ago).",
)
@click.option("--dry-run", is_flag=True, help="Print what would be sent; send and record nothing.")
@click.option(
    "--ledger",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Keys already sent (default: .isg/notified.json in the registry).",
)
@repo_option
@library_errors
def notify_command(
    at: str | None, since: str | None, dry_run: bool, ledger: Path | None, repo: Path | None
) -> None:
    """Send due notifications by e-mail (registration, eCAB, SLA at risk or late, overdue
    installations), each once. SMTP from ISG_SMTP_HOST, ISG_SMTP_PORT, ISG_SMTP_TLS
    (starttls, ssl or none), ISG_SMTP_USER, ISG_SMTP_PASSWORD; sender ISG_MAIL_FROM.

    \b
    Example:
      isg notify --dry-run
    """
    now = parse_at(at)
    root = registry_root(repo)
    registry = load_registry(root)
    run = evaluate_registry(registry, load_schemas(root), now=now)
    ledger_path = ledger or root / ".isg" / "notified.json"
    sent = read_ledger(ledger_path)
    start = parse_at(since) if since else now - timedelta(days=7)
    due = [
        n
        for n in due_notifications(registry, run.statuses, at=now, since=start)
        if n.key not in sent
    ]
    sender = os.environ.get("ISG_MAIL_FROM", "isupport-helpdesk@example.org")
    env = mail_environment()
    if dry_run:
        for n in due:
            subject = render_message(n, sender=sender, env=env)["Subject"]
            click.echo(f"would send {n.key} to {len(n.recipients)} recipient(s): {subject}")
        click.echo(f"{len(due)} notification(s) due", err=True)
        return
    if not due:
        click.echo("nothing to send", err=True)
        return
    server = _smtp()
    try:
        with click.progressbar(due, label="sending", file=sys.stderr) as bar:
            for n in bar:
                server.send_message(render_message(n, sender=sender, env=env))
                sent.add(n.key)
                write_ledger(ledger_path, sent)  # after each, so a failure never resends
    except smtplib.SMTPException as exc:
        raise UsageError(f"sending stopped: {exc}; what was sent is recorded") from None
    finally:
        server.quit()
    click.echo(f"{len(due)} notification(s) sent", err=True)
