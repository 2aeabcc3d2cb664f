"""Which e-mails are due, rendered from templates, sent once (`isg notify`).

Due notifications, worked out from the records at `at`:

* `registration`: the registration of an incident is confirmed to the reporter (the member in
  `reported_by`, else the reporting State's members with an address);
* `ecab`: for priorities 1 and 2 the eCAB on duty (the Permanent Bureau and Service Provider
  eCAB members and the State on the month's rota) is called (priority 1) or informed
  (priority 2) with the registration;
* `sla`: an open milestone at risk or late goes to the Service Provider's service-level
  manager and helpdesk, once per milestone and state;
* `installation`: a regular release not installed within three months goes to the State's
  members.

Each notification has a key; the ledger of keys already sent makes sending idempotent.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from isg.governance import seats
from isg.records import Registry, write_atomic
from isg.releases import installation_status
from isg.sla.incident import IncidentStatus

AT_RISK_OR_LATE = ("at-risk", "late-within-margin", "late-beyond-margin")


@dataclass(frozen=True)
class Notification:
    key: str
    template: str
    recipients: tuple[str, ...]
    context: Mapping[str, Any]


def _emails(records: Iterable[Any]) -> tuple[str, ...]:
    return tuple(sorted({str(r.data["email"]) for r in records if r.data.get("email")}))


def due_notifications(
    registry: Registry,
    statuses: Iterable[IncidentStatus],
    *,
    at: datetime,
    since: datetime | None = None,
) -> list[Notification]:
    """Every notification the records call for at `at`, sent or not (see module doc).
    Registrations confirmed before `since` are history, not news, and are left out."""
    members = registry.of_kind("member")
    by_state: dict[str, list[Any]] = {}
    for member in members:
        if member.data.get("state"):
            by_state.setdefault(str(member.data["state"]), []).append(member)
    month = f"{at.year}-{at.month:02d}"
    ecab = [
        s.member
        for s in seats(registry, "ecab")
        if (s.on_duty_in(month) if s.state else s.active_on(at.date()))
    ]
    service_desk = [
        m
        for m in members
        if any(
            r.get("role") in ("helpdesk", "service-level-manager")
            for r in m.data.get("roles") or []
        )
    ]
    found: list[Notification] = []
    for status in statuses:
        incident = registry.get("incident", status.incident_id)
        if incident is None:
            continue
        confirmed = next(
            (
                m
                for m in status.milestones
                if m.milestone == "registration_confirmed"
                and m.completed_at
                and m.completed_at <= at
                and (since is None or m.completed_at >= since)
            ),
            None,
        )
        reporter = registry.get("member", str(incident.data.get("reported_by")))
        context = {"incident": incident.data, "status": status}
        if confirmed:
            to = _emails([reporter] if reporter else by_state.get(status.reporting_state, []))
            found.append(
                Notification(
                    f"registration:{status.incident_id}", "registration.txt.j2", to, context
                )
            )
            if status.ecab:
                found.append(
                    Notification(
                        f"ecab:{status.incident_id}", "ecab.txt.j2", _emails(ecab), context
                    )
                )
        if status.status == "closed":
            continue
        for m in status.milestones:
            if m.completed_at is None and m.state in AT_RISK_OR_LATE:
                found.append(
                    Notification(
                        f"sla:{status.incident_id}:{m.milestone}:{m.state}",
                        "sla.txt.j2",
                        _emails(service_desk),
                        {**context, "milestone": m},
                    )
                )
    states = [s.data for s in registry.of_kind("state")]
    for release in registry.of_kind("release"):
        if release.data.get("type") != "regular":
            continue
        for row in installation_status(release.data, states, at):
            if row["verdict"] == "overdue":
                found.append(
                    Notification(
                        f"installation:{release.id}:{row['state']}",
                        "installation.txt.j2",
                        _emails(by_state.get(row["state"], [])),
                        {"release": release.data, "row": row},
                    )
                )
    return [n for n in found if n.recipients]


def mail_environment() -> Environment:
    """Plain-text mail templates (tool/isg/templates/mail): not HTML, so not escaped."""
    return Environment(
        loader=PackageLoader("isg", "templates/mail"),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
    )


def render_message(notification: Notification, *, sender: str, env: Environment) -> EmailMessage:
    """The e-mail: the template's first line is the subject (kept on one line)."""
    text = env.get_template(notification.template).render(**notification.context)
    subject, _, body = text.partition("\n")
    message = EmailMessage()
    message["From"] = sender
    message["To"] = ", ".join(notification.recipients)
    message["Subject"] = " ".join(subject.split())[:200]
    message["X-ISG-Notification"] = notification.key
    message.set_content(body.lstrip("\n"))
    return message


def read_ledger(path: Path) -> set[str]:
    if not path.is_file():
        return set()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return set()
    return {str(key) for key in data.get("sent", [])} if isinstance(data, dict) else set()


def write_ledger(path: Path, keys: set[str]) -> None:
    write_atomic(path, json.dumps({"sent": sorted(keys)}, indent=2) + "\n")
