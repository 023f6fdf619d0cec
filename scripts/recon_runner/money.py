"""Money as finance reads it: exact decimals at the currency's exponent
(ISO 4217 minor units: JPY 0, USD 2, KWD 3), never compared across
currencies.

Three spellings, one rule:
  plain(-37224, 0)             "-37224"     files (variances.csv, summary.json)
  text(-37224, "JPY", 0)       "JPY -37,224" the message
  display(-37224, "JPY", 0)    "-¥37,224"   the HTML report (babel, per locale)
"""

from __future__ import annotations

import csv
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterable

REPORT_LOCALE = "en_US"


def minor_units(currency: str | None, given: Any = None) -> int:
    """The currency's exponent: the mart's minor_units where the row has it,
    else babel's ISO 4217 data, else 2."""
    if given is not None:
        return int(given)
    if currency:
        try:
            from babel.numbers import get_currency_precision

            return int(get_currency_precision(currency.upper()))
        except Exception:  # noqa: BLE001 (an unknown code is shown with 2 decimals)
            return 2
    return 2


def seed_exponents(seed: Path) -> dict[str, int]:
    """currency -> exponent, as the currencies seed (seeds/currencies.csv) lists them."""
    with open(seed, newline="", encoding="utf-8") as handle:
        return {row["currency"]: int(row["minor_units"]) for row in csv.DictReader(handle)}


def quantize(amount: Any, units: int) -> Decimal | None:
    """The amount as an exact Decimal at `units` decimals (None stays None)."""
    if amount is None:
        return None
    return Decimal(str(amount)).quantize(Decimal(1).scaleb(-int(units)))


def plain(amount: Any, units: int) -> str:
    """-37224 (JPY), -12.50 (USD): no thousands separator, no exponent notation;
    an empty string for a missing amount."""
    value = quantize(amount, units)
    return "" if value is None else f"{value:f}"


def text(amount: Any, currency: str | None, units: int) -> str:
    """JPY -37,224 / USD -12.50: the code first, never a bare symbol that two
    currencies share (¥ is JPY and CNY)."""
    value = quantize(amount, units)
    return f"{currency or '?'} {'n/a' if value is None else f'{value:,f}'}"


def display(amount: Any, currency: str | None, units: int, locale: str = REPORT_LOCALE) -> str:
    """The locale's currency format at the currency's exponent: -¥37,224, -$12.50, KWD66.967."""
    value = quantize(amount, units)
    if value is None:
        return "n/a"
    if not currency:
        return f"{value:,f}"
    from babel import Locale
    from babel.numbers import parse_pattern

    parsed = Locale.parse(locale)
    pattern = parse_pattern(parsed.currency_formats["standard"].pattern)
    pattern.frac_prec = (int(units), int(units))
    return pattern.apply(value, parsed, currency=currency, currency_digits=False)


def with_units(row: dict[str, Any]) -> int:
    return minor_units(row.get("currency"), row.get("minor_units"))


def refund_of(row: dict[str, Any]) -> str:
    return str(row.get("refund_key") or row.get("refund_id") or row.get("variance_id") or "")


# Each amount column of fct_refund_variances: the columns naming its currency
# and that currency's exponent (the per-system exponents are added by
# marts.read_checkpoint from the currencies seed).
AMOUNT_CURRENCY = {
    "storefront_amount": ("storefront_currency", "storefront_minor_units"),
    "processor_amount": ("processor_currency", "processor_minor_units"),
    "erp_amount": ("erp_currency", "erp_minor_units"),
    "amount_delta": ("currency", "minor_units"),
    "amount_at_stake": ("currency", "minor_units"),
}


def currency_of(row: dict[str, Any], column: str) -> tuple[str | None, int]:
    """(currency, exponent) of one amount of a variance row: each system's
    amount in that system's currency (a currency mismatch holds two), the
    delta and the amount at stake in the variance's `currency`. A row
    without the per-system column falls back to `currency`."""
    currency_column, units_column = AMOUNT_CURRENCY.get(column, ("currency", "minor_units"))
    if row.get(currency_column) is None or currency_column == "currency":
        return row.get("currency"), with_units(row)
    currency = row[currency_column]
    if currency == row.get("currency") and row.get(units_column) is None:
        return currency, with_units(row)
    return currency, minor_units(currency, row.get(units_column))


def at_stake(variances: Iterable[dict[str, Any]], by: str | None = None) -> list[dict[str, Any]]:
    """Open variances per currency (and per `by`, e.g. variance_type): how many,
    how many refunds, the amount at stake and the net delta, at the currency's
    exponent; net_delta is None where no variance of the group has a delta.

    Reads the mart's amount_at_stake (fct_refund_variances: defined once per
    variance type there, docs/models.md); nothing is recomputed here. A
    refund with several variances in a group counts once, at the largest of
    their amounts (an amount mismatch and a wrong period on one refund put
    the refund's amount at stake, not twice). A variance without an amount
    (an older mart) is counted in `without_amount`. Never summed across
    currencies.
    """
    groups: dict[tuple[str, str], dict[str, Any]] = {}
    for row in variances:
        currency = row.get("currency") or ""
        key = (currency, str(row.get(by) or "") if by else "")
        group = groups.setdefault(key, {"currency": currency, "minor_units": with_units(row), "count": 0,
                                         "refunds": {}, "without_amount": 0, "net": None})
        group["count"] += 1
        if row.get("amount_delta") is not None:  # none for a currency mismatch: no net difference
            group["net"] = (group["net"] or Decimal(0)) + Decimal(str(row["amount_delta"]))
        stake = row.get("amount_at_stake")
        refund = refund_of(row)
        if stake is None:
            group["without_amount"] += 1
            group["refunds"].setdefault(refund, Decimal(0))
            continue
        group["refunds"][refund] = max(group["refunds"].get(refund, Decimal(0)), abs(Decimal(str(stake))))
    result = []
    for (currency, value), group in groups.items():
        units = group["minor_units"]
        entry = {"currency": currency, "minor_units": units}
        if by:
            entry[by] = value
        entry.update({
            "variance_count": group["count"],
            "refund_count": len(group["refunds"]),
            "without_amount": group["without_amount"],
            "amount_at_stake": quantize(sum(group["refunds"].values(), Decimal(0)), units),
            "net_delta": quantize(group["net"], units),
        })
        result.append(entry)
    result.sort(key=lambda e: (e["currency"], -e["amount_at_stake"], e.get(by) or "") if by
                else (e["currency"],))
    return result


def largest(variances: Iterable[dict[str, Any]], count: int = 5) -> dict[str, list[dict[str, Any]]]:
    """The `count` largest amounts at stake (the mart's amount_at_stake) within
    each currency, currencies with most open variances first. Amounts in
    different currencies are never compared: 10,000 JPY is not larger than
    500 USD. Zero and missing amounts are not "large"."""
    by_currency: dict[str, list[dict[str, Any]]] = {}
    for variance in variances:
        if variance.get("amount_at_stake"):
            by_currency.setdefault(variance.get("currency") or "", []).append(variance)
    ordered = sorted(by_currency.items(), key=lambda item: (-len(item[1]), item[0]))
    return {currency: sorted(group, key=lambda v: (-abs(Decimal(str(v["amount_at_stake"]))), refund_of(v)))[:count]
            for currency, group in ordered}
