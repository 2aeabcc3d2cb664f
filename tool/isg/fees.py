"""States' contributions to the yearly cost of iSupport (paras 21-23 of the document).

Rules, with money in `Decimal` and cents:

* The amount to share is the year's support contract (incidents x rate per incident) plus the
  lawyer's and the IT co-ordinator's costs (salary, travel, other), from the budget the
  Governing Body approved. Unused budget carried over from the previous year is shown, and goes
  to upgrades; it is not deducted from the fees.
* The amount is divided by the UPU units of the States operating iSupport for the *whole*
  year (operational on 1 January): the fee per unit. Each such State pays its units times the
  fee per unit. Rounding: every share is first cut down to the cent; the cents left over are
  then given one by one to the States with the largest cut-off remainders (ties: the State
  code in alphabetical order), so the shares add up to the amount exactly.
* A State that starts operating during the year pays pro rata: its units times the fee per
  unit, times the days iSupport is operational there that year (from its first day to 31
  December, both counted), divided by the days of the year (366 in a leap year), rounded half
  up to the cent. As the document says, these payments go to the reserve fund for major
  upgrades; they do not lower the other States' shares.
* The reserve fund opens the year with the budget's `reserve_fund`, or, if the budget does not
  give one, with the previous year's closing balance; it closes with the pro rata payments
  added.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal
from typing import Any

from isg.errors import IsgError
from isg.times import parse_date

CENT = Decimal("0.01")


class FeesError(IsgError):
    """No budget for the year, or no State to share it."""


@dataclass(frozen=True)
class Share:
    """One State's contribution for the year."""

    state: str
    units: Decimal
    days: int
    days_in_year: int
    amount: Decimal
    pro_rata: bool


@dataclass
class FeesReport:
    year: int
    currency: str
    support_contract: Decimal
    lawyer: Decimal
    it_coordinator: Decimal
    carried_over: Decimal
    full_year_units: Decimal
    fee_per_unit: Decimal
    shares: list[Share] = field(default_factory=list)
    reserve_opening: Decimal = Decimal(0)

    @property
    def amount(self) -> Decimal:
        return self.support_contract + self.lawyer + self.it_coordinator

    @property
    def reserve_in(self) -> Decimal:
        return sum((s.amount for s in self.shares if s.pro_rata), Decimal(0))

    @property
    def reserve_closing(self) -> Decimal:
        return self.reserve_opening + self.reserve_in


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0))


def _costs(costs: Mapping[str, Any] | None) -> Decimal:
    costs = costs or {}
    return _money(costs.get("salary")) + _money(costs.get("travel")) + _money(costs.get("other"))


def days_in_year(year: int) -> int:
    return 366 if calendar.isleap(year) else 365


def split_to_cents(amount: Decimal, weights: Mapping[str, Decimal]) -> dict[str, Decimal]:
    """`amount` split in proportion to `weights`, to the cent, adding up exactly (see module)."""
    total = sum(weights.values(), Decimal(0))
    if total <= 0:
        raise FeesError("no UPU units to share the amount")
    exact = {key: amount * weight / total for key, weight in weights.items()}
    shares = {key: value.quantize(CENT, rounding=ROUND_DOWN) for key, value in exact.items()}
    left = int(((amount - sum(shares.values(), Decimal(0))) / CENT).to_integral_value())
    by_remainder = sorted(exact, key=lambda key: (-(exact[key] - shares[key]), key))
    for key in by_remainder[:left]:
        shares[key] += CENT
    return shares


def compute_fees(
    *, year: int, budgets: Iterable[Mapping[str, Any]], states: Iterable[Mapping[str, Any]]
) -> FeesReport:
    """Every operating State's contribution for `year` and the reserve fund's movement."""
    states = list(states)
    by_year = {int(b["year"]): b for b in budgets}
    budget = by_year.get(year)
    if budget is None:
        raise FeesError(f"no budget for {year} (records/budgets/budget-{year}.yaml)")
    contract = budget.get("support_contract") or {}
    first_day, last_day = date(year, 1, 1), date(year, 12, 31)
    full: dict[str, Decimal] = {}
    joining: dict[str, tuple[Decimal, int]] = {}
    for state in states:
        since = parse_date(state.get("operational_since"))
        if state.get("role") != "operating" or since is None or since > last_day:
            continue
        units = _money(state.get("upu_units"))
        if since <= first_day:
            full[state["id"]] = units
        else:
            joining[state["id"]] = (units, (last_day - since).days + 1)
    report = FeesReport(
        year=year,
        currency=str(budget.get("currency", "")),
        support_contract=_money(contract.get("incidents")) * _money(contract.get("rate")),
        lawyer=_costs(budget.get("lawyer")),
        it_coordinator=_costs(budget.get("it_coordinator")),
        carried_over=_money(budget.get("carried_over")),
        full_year_units=sum(full.values(), Decimal(0)),
        fee_per_unit=Decimal(0),
        reserve_opening=_opening_reserve(year, by_year, states),
    )
    if not full:
        raise FeesError(f"no State operated iSupport for the whole of {year}")
    report.fee_per_unit = report.amount / report.full_year_units
    year_days = days_in_year(year)
    for code, amount in sorted(split_to_cents(report.amount, full).items()):
        report.shares.append(Share(code, full[code], year_days, year_days, amount, False))
    for code, (units, days) in sorted(joining.items()):
        exact = units * report.fee_per_unit * days / year_days
        report.shares.append(
            Share(code, units, days, year_days, exact.quantize(CENT, rounding=ROUND_HALF_UP), True)
        )
    return report


def _opening_reserve(
    year: int, by_year: Mapping[int, Mapping[str, Any]], states: list[Mapping[str, Any]]
) -> Decimal:
    budget = by_year[year]
    if budget.get("reserve_fund") is not None:
        return _money(budget["reserve_fund"])
    if year - 1 in by_year:
        previous = compute_fees(year=year - 1, budgets=by_year.values(), states=states)
        return previous.reserve_closing
    return Decimal(0)
