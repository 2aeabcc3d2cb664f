"""Fees, hand-computed: shares by UPU units to the cent, pro rata joiners, the reserve."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from conftest import REPO_ROOT
from isg.fees import FeesError, compute_fees, split_to_cents
from isg.records import parse_registry, read_record_files

REGISTRY = parse_registry(read_record_files(REPO_ROOT))


def budget(year: int, **extra: Any) -> dict[str, Any]:
    return {
        "year": year,
        "currency": "EUR",
        "support_contract": {"incidents": 100, "rate": 1000},
        "lawyer": {"salary": 0, "travel": 0},
        "it_coordinator": {"salary": 0, "travel": 0},
        **extra,
    }


def state(code: str, units: int, since: str, role: str = "operating") -> dict[str, Any]:
    return {"id": code, "upu_units": units, "operational_since": since, "role": role}


def test_embedded_2026_budget_shared_by_units_to_the_cent() -> None:
    report = compute_fees(
        year=2026,
        budgets=[r.data for r in REGISTRY.of_kind("budget")],
        states=[r.data for r in REGISTRY.of_kind("state")],
    )
    # 120 x 850 + (45,000 + 6,000) + (50,000 + 5,000 + 1,500)
    assert report.amount == Decimal("209500")
    assert report.carried_over == Decimal("12500")  # shown, not deducted
    assert report.full_year_units == Decimal("46")  # BR 10, FR 25, MT 1, NL 10; CA joined
    shares = {s.state: (str(s.amount), s.pro_rata) for s in report.shares}
    # 209,500 / 46 = 4,554.3478...: FR 113,858.695..., BR and NL 45,543.478..., MT 4,554.347...
    # cut to cents: 209,499.97; the 3 cents go to the largest remainders BR, NL (.0082...)
    # and MT (.0078...).
    assert shares == {
        "BR": ("45543.48", False),
        "FR": ("113858.69", False),
        "MT": ("4554.35", False),
        "NL": ("45543.48", False),
        # Canada from 15 April: 261 of 365 days of 25 units: 113,858.6956... x 261 / 365.
        "CA": ("81416.77", True),
    }
    assert sum(Decimal(a) for a, pro in shares.values() if not pro) == report.amount
    assert report.reserve_opening == Decimal("30000")
    assert report.reserve_closing == Decimal("111416.77")


def test_joining_on_1_july_of_a_leap_year_pays_184_of_366_days_into_the_reserve() -> None:
    states = [
        state("AA", 3, "2020-01-01"),
        state("BB", 1, "2027-12-31"),
        state("CC", 2, "2028-07-01"),
        state("DD", 5, "2029-01-01"),
        state("EE", 9, "2020-01-01", role="observer"),
    ]
    report = compute_fees(year=2028, budgets=[budget(2028, reserve_fund=10000)], states=states)
    assert report.fee_per_unit == Decimal("25000")  # 100,000 / (3 + 1)
    assert [(s.state, str(s.amount), s.days, s.days_in_year) for s in report.shares] == [
        ("AA", "75000.00", 366, 366),
        ("BB", "25000.00", 366, 366),
        # 2 x 25,000 x 184 / 366 = 25,136.6120... -> 25,136.61
        ("CC", "25136.61", 184, 366),
    ]
    assert report.reserve_in == Decimal("25136.61")
    assert report.reserve_closing == Decimal("35136.61")


def test_reserve_balance_carries_to_the_next_year() -> None:
    states = [state("AA", 3, "2020-01-01"), state("CC", 2, "2028-07-01")]
    budgets = [budget(2028, reserve_fund=10000), budget(2029, carried_over=4200)]
    report = compute_fees(year=2029, budgets=budgets, states=states)
    # 2028: AA pays all; CC 2 x (100,000 / 3) x 184 / 366 = 33,515.48 into the reserve.
    assert report.reserve_opening == Decimal("43515.48")
    assert report.carried_over == Decimal("4200")
    assert report.amount == Decimal("100000")  # the carry-over is not deducted
    assert [s.state for s in report.shares] == ["AA", "CC"]
    assert report.reserve_in == Decimal(0)


def test_remainder_cents_go_to_the_largest_remainders_then_alphabetically() -> None:
    assert split_to_cents(Decimal("100"), {"B": Decimal(1), "A": Decimal(1), "C": Decimal(1)}) == {
        "A": Decimal("33.34"),
        "B": Decimal("33.33"),
        "C": Decimal("33.33"),
    }


def test_missing_budget_is_a_clear_error() -> None:
    with pytest.raises(FeesError, match="no budget for 2031"):
        compute_fees(year=2031, budgets=[budget(2028)], states=[])
