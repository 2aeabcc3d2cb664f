"""The personal-data guard: each detector, its checksum, and its silence on registry data."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import FIXED_AT, RunCli
from isg.privacy import scan_text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to jane.doe@gmail.com please", "e-mail address"),
        ("call +33 1 23 45 67 89 tomorrow", "telephone number"),
        ("call 0031 20 123 4567", "telephone number"),
        ("tel. 01 23 45 67 89", "telephone number"),
        ("IBAN FR14 2004 1010 0505 0001 3M02 606", "IBAN"),
        ("NL91ABNA0417164300", "IBAN"),
        ("the debtor, born on 12/03/1985, lives", "date of birth"),
        ("DOB: 1985-03-12", "date of birth"),
        ("née le 3 mars 1985", "date of birth"),
        ("see case no. 2024/1234", "case reference"),
        ("dossier nr 77-AB-12", "case reference"),
        ("NIR 1 85 05 78 006 084 91", "French social security number (NIR)"),
        ("BSN 111222333", "Dutch citizen service number (BSN)"),
        ("CPF 111.444.777-35", "Brazilian CPF"),
        ("SIN 046 454 286", "Canadian social insurance number"),
        ("SSN 123-45-6789", "US social security number"),
        ("AHV 756.9217.0769.85", "Swiss AHV number"),
        ("ID card 123456M", "Maltese identity card number"),
    ],
)
def test_each_kind_is_found(text: str, kind: str) -> None:
    assert [hit.kind for hit in scan_text(text)] == [kind]


@pytest.mark.parametrize(
    "text",
    [
        "IBAN FR15 2004 1010 0505 0001 3M02 606",  # wrong check digits
        "NIR 1 85 05 78 006 084 36",  # wrong key
        "BSN 111222334",  # fails the 11-test
        "CPF 111.444.777-36",  # wrong check digit
        "SIN 046 454 287",  # fails Luhn
        "SSN 666-45-6789",  # reserved range
        "version 4.2.0 released 2026-10-20, cost 209,500.00, 12 days",
        "reported_at 2026-11-24T16:19:00+01:00 by INC-2026-7EVZM for RFC-2026-0R57D",
        "Search by case reference ignores leading zeros",
        "see https://example.org/isupport/mt-report-column.patch",
    ],
)
def test_near_misses_and_registry_data_stay_quiet(text: str) -> None:
    assert scan_text(text) == []


def test_members_declared_addresses_are_allowed() -> None:
    assert scan_text("ask pb@hcch.example", allowed={"pb@hcch.example"}) == []


def test_validate_reports_where_never_what(run_cli: RunCli, registry: Path) -> None:
    incident = registry / "records/incidents/INC-2026-K0X2Z.yaml"
    text = incident.read_text()
    incident.write_text(
        text.replace(
            "description: |\n",
            "description: |\n  Debtor IBAN FR14 2004 1010 0505 0001 3M02 606.\n",
            1,
        )
    )
    result = run_cli("validate", str(incident), "--repo", str(registry), "--at", FIXED_AT)
    assert result.exit_code == 1
    line = text.splitlines().index("description: |") + 2
    assert result.output.splitlines()[0] == (
        f"records/incidents/INC-2026-K0X2Z.yaml:{line}:15: $.description:"
        " looks like a IBAN (value not shown)"
    )
    assert "FR14" not in result.output


def test_privacy_scan_reads_other_files_line_by_line(run_cli: RunCli, registry: Path) -> None:
    patch = registry / "records/rfcs/RFC-2026-ZZZZZ.patch"
    patch.write_text("--- a/x\n+++ b/x\n+  contact: john@example.com\n")
    result = run_cli("privacy-scan", str(patch), "--repo", str(registry))
    assert (result.exit_code, result.stdout) == (
        1,
        "records/rfcs/RFC-2026-ZZZZZ.patch:3:13: looks like a e-mail address (value not shown)\n",
    )
    clean = run_cli("privacy-scan", "--repo", str(registry))
    assert clean.exit_code == 0
