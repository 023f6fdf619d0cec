#!/usr/bin/env python3
"""Write a labelled refund-reconciliation scenario in the generic input format.

The three inputs (storefront_refunds, processor_refunds, erp_refund_postings)
are written to --out together with the ground truth:

* ``ground_truth.csv``: one row per variance the project must report
  (refund_id, variance_type, discrepancy_system, amount_delta, currency);
  every other refund is clean and must not be flagged.
* ``expected_rejections.csv``: one row per input row that must be rejected
  (input_name, record_id, rejected_column, rejection_reason).
* ``scenario.json``: the settings the labels assume (as_of, SLA, timezone),
  the dbt vars a run needs, and counts per fault kind.
* ``suggestion_truth.csv`` (only with ``--id-fault-rate``): the true
  counterpart of each record whose processor refund id was dropped or
  mistyped (record_system, record_id, processor_refund_id, id_fault), the
  answer fct_suggested_matches should give. Every other unlinked record has
  no true counterpart.

With ``--id-fault-rate`` (off by default: every other scenario is unchanged)
that share of cases drops or mistypes the processor refund id (dropped, one
digit changed, two adjacent characters swapped, truncated) on an ERP posting
or a storefront row, the refund keeping vendor-like random ids as real
processors issue them; as many cases are near twins with no true
counterpart: an unlinked record in the same currency, of the same amount and
within the hour of an unrelated unlinked processor refund, on another order.

With ``--processor-shapes``, ``--storefront-shape`` and ``--erp-shape`` the same
kind of scenario is written in the raw shapes of Stripe, Adyen, PayPal,
Shopify and NetSuite instead (scripts/shape_writers.py), with the same labels:
what a shape cannot carry is not generated for it, and where the ERP shape
has a period calendar (NetSuite) the labels include locked_period_posting.

Each refund case carries at most one fault, chosen deterministically from the
seed, so the labels follow from the fault alone and never from re-running the
project's own rules. Clean traps are cases a careless reconciliation flags:
a refund confirmed inside the SLA with no ERP entry yet, pending and failed
refunds with no ERP entry, correct multi-partial orders, a refund reversed by
the processor with its ERP reversal, JPY and KWD amounts, confirmations near
midnight at month end written with offsets, duplicate export rows, and status
strings in mixed case with stray spaces.

It streams: 10 million refunds need no more memory than a thousand.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterator
from zoneinfo import ZoneInfo

from shape_writers import ShapeWriters, is_locked

STOREFRONT_COLUMNS = [
    "storefront_refund_id", "order_id", "processor_refund_id", "amount", "currency",
    "refund_type", "reason", "status", "created_at", "updated_at", "channel", "storefront",
]
PROCESSOR_COLUMNS = [
    "processor_refund_id", "processor", "payment_id", "order_id", "amount", "currency",
    "status", "reason", "created_at", "event_at",
]
ERP_COLUMNS = [
    "erp_document_id", "processor_refund_id", "order_id", "gl_account", "amount", "currency",
    "reason_code", "refund_type", "posted_at", "received_at", "posting_period",
]
PROCESSOR_SHAPES = ["generic", "stripe", "adyen", "paypal"]
# ERP faults whose fix is an entry in the refund's own period: in a locked
# period each also needs locked_period_posting (variance-rules.md).
ENTRY_FAULTS = {"missing_in_erp", "partial_refund_collapsed", "amount_mismatch", "currency_mismatch",
                "status_mismatch", "duplicate_erp_posting", "wrong_period", "reason_mismatch"}
TRUTH_COLUMNS = ["refund_id", "variance_type", "discrepancy_system", "amount_delta", "currency"]
REJECTION_COLUMNS = ["input_name", "record_id", "rejected_column", "rejection_reason"]

# Faults: each maps to the labels it must produce (see label_* below).
FAULTS = [
    "missing_in_erp", "missing_in_storefront", "missing_at_processor", "orphan_erp_posting",
    "amount_mismatch_erp", "amount_mismatch_storefront",
    "currency_mismatch_erp", "currency_mismatch_storefront",
    "status_mismatch_pending_booked", "status_mismatch_failed_booked", "status_mismatch_partial_as_full",
    "partial_refund_collapsed_sum", "partial_refund_collapsed_overwrite",
    "duplicate_erp_posting", "confirmation_lag", "wrong_period",
    "unmapped_status_processor", "unmapped_status_storefront", "unmapped_status_erp",
    "unmapped_reason_storefront", "unmapped_reason_processor", "reason_mismatch",
]
# With --id-fault-rate: processor refund ids dropped or mistyped on the ERP
# posting or the storefront row, and near twins with no true counterpart.
ID_FAULTS = ["id_fault_erp", "id_fault_storefront", "id_twin_erp", "id_twin_storefront"]
ID_FAULT_KINDS = ["dropped", "digit_changed", "swapped", "truncated"]
SUGGESTION_COLUMNS = ["record_system", "record_id", "processor_refund_id", "id_fault"]
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
TRAPS = [
    "trap_within_sla", "trap_pending", "trap_failed", "trap_multi_partial",
    "trap_month_end", "trap_duplicate_rows", "trap_reversed",
]

# Currencies with their ISO 4217 exponent, weighted towards the common case.
CURRENCIES = [("USD", 2)] * 6 + [("EUR", 2)] * 3 + [("GBP", 2)] * 2 + [("JPY", 0), ("KWD", 3)]
SAME_EXPONENT_OTHER = {"USD": "EUR", "EUR": "GBP", "GBP": "USD", "JPY": "KRW", "KWD": "BHD"}

# Status and reason vocabularies per processor, as the default seeds map them.
PROCESSOR_STATUS = {
    "stripe": {"pending": "pending", "succeeded": "succeeded", "failed": "failed"},
    "adyen": {"pending": "sent_for_refund", "succeeded": "refunded", "failed": "refund_failed"},
    "paypal": {"pending": "PENDING", "succeeded": "COMPLETED", "failed": "FAILED"},
    "generic": {"pending": "processing", "succeeded": "succeeded", "failed": "failed"},
}
PROCESSOR_REASONS = {
    "stripe": {"requested_by_customer": "RC-CUS", "duplicate": "RC-DUP", "fraudulent": "RC-FRD"},
    "paypal": {"requested_by_customer": "RC-CUS"},
    "generic": {"requested_by_customer": "RC-CUS", "duplicate": "RC-DUP"},
    "adyen": {},
}
STOREFRONT_STATUS = {
    "generic": {"pending": "pending", "succeeded": "succeeded", "failed": "failed"},
    "shopify": {"pending": "pending", "succeeded": "success", "failed": "failure"},
}
STOREFRONT_REASONS = {
    "generic": {"changed_mind": "RC-CUS", "damaged": "RC-DMG", "wrong_item": "RC-WRG",
                "not_received": "RC-NRC", "late_delivery": "RC-LAT", "other": "RC-OTH"},
    "shopify": {"size_too_small": "RC-CUS", "not_as_described": "RC-NAD", "defective": "RC-DMG",
                "wrong_item": "RC-WRG", "other": "RC-OTH"},
}
GL_PENDING, GL_FULL, GL_PARTIAL, GL_REVERSED, GL_UNKNOWN = "2150", "4900", "4910", "4950", "4999"
OFFSETS = [None, "Z", "+00:00", "+05:30", "-08:00", "-05:00", "+09:00", "+01:00"]


@dataclass
class Refund:
    """One processor refund of a case, before faults shape its rows."""

    processor_refund_id: str
    storefront_refund_id: str
    order_id: str
    processor: str
    storefront: str
    currency: str
    exponent: int
    amount_minor: int
    scope: str  # partial or full
    created_at: datetime
    confirmed_at: datetime | None
    outcome: str  # succeeded, pending or failed
    storefront_reason: str | None
    processor_reason: str | None
    gl_reason_code: str | None


@dataclass
class Output:
    storefront: list[list[str]] = field(default_factory=list)
    processor: list[list[str]] = field(default_factory=list)
    erp: list[list[str]] = field(default_factory=list)
    truth: list[list[str]] = field(default_factory=list)
    rejections: list[list[str]] = field(default_factory=list)
    pairs: list[list[str]] = field(default_factory=list)


def money(minor: int, exponent: int) -> str:
    """Integer minor units as the decimal text of major units."""
    sign = "-" if minor < 0 else ""
    minor = abs(minor)
    if exponent == 0:
        return f"{sign}{minor}"
    return f"{sign}{minor // 10**exponent}.{minor % 10**exponent:0{exponent}d}"


class Scenario:
    def __init__(self, args: argparse.Namespace) -> None:
        self.rng = random.Random(args.seed)
        self.as_of = parse_utc(args.as_of)
        self.sla = timedelta(minutes=args.sla_minutes)
        self.tz = ZoneInfo(args.business_timezone)
        self.fault_rate = args.fault_rate
        self.trap_rate = args.trap_rate
        self.id_fault_rate = args.id_fault_rate
        self.counter = 0
        self.counts: dict[str, int] = {}
        self.processor_shapes: list[str] = args.processor_shapes
        self.storefront_shape: str = args.storefront_shape
        # Only NetSuite brings a period calendar, with closed months.
        self.has_calendar = args.erp_shape == "netsuite"
        self.shaped = self.processor_shapes != ["generic"] or args.storefront_shape != "generic" or self.has_calendar

    def is_current_state(self, processor: str) -> bool:
        """Stripe in its own shape: one row per refund, dated at creation."""
        return processor == "stripe" and "stripe" in self.processor_shapes

    # -- ids and time ---------------------------------------------------
    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def ts(self, instant: datetime) -> str:
        """An ISO 8601 text for a UTC instant, in a random offset (or none = UTC)."""
        offset = self.rng.choice(OFFSETS)
        if offset is None:
            return instant.strftime("%Y-%m-%dT%H:%M:%S")
        if offset == "Z":
            return instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        sign = 1 if offset[0] == "+" else -1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        local = instant + sign * timedelta(hours=hours, minutes=minutes)
        return local.strftime("%Y-%m-%dT%H:%M:%S") + offset

    def period(self, instant: datetime) -> str:
        return instant.replace(tzinfo=timezone.utc).astimezone(self.tz).strftime("%Y-%m")

    def next_period(self, period: str) -> str:
        year, month = int(period[:4]), int(period[5:])
        return f"{year + month // 12}-{month % 12 + 1:02d}"

    # -- building blocks --------------------------------------------------
    def new_refund(self, order_id: str, scope: str, outcome: str = "succeeded",
                   created_at: datetime | None = None, currency: tuple[str, int] | None = None,
                   amount_minor: int | None = None) -> Refund:
        n = self.next_id()
        if self.processor_shapes == ["generic"]:
            processor = self.rng.choice(["stripe", "stripe", "adyen", "paypal", "generic"])
        else:
            # Adyen notifies no refund before it is processed: no pending ones.
            choices = [p for p in self.processor_shapes if not (p == "adyen" and outcome == "pending")]
            processor = self.rng.choice(choices)
        prefix = {"stripe": "re_", "adyen": "88", "paypal": "PP-", "generic": "pr_"}[processor]
        code, exponent = currency or self.rng.choice(CURRENCIES)
        if amount_minor is None:
            amount_minor = self.rng.randint(100, 40000) * (10 if exponent == 3 else 1)
        if created_at is None:
            # From 3 hours to 57 days before as_of: every system has recent rows.
            created_at = self.as_of - timedelta(seconds=self.rng.randint(3 * 3600, 57 * 86400))
        confirmed_at = created_at + timedelta(seconds=self.rng.randint(3, 180)) if outcome == "succeeded" else None
        if confirmed_at is not None and self.is_current_state(processor):
            confirmed_at = created_at
        storefront = self.rng.choice(["generic", "generic", "shopify"])
        if self.storefront_shape != "generic":
            storefront = self.storefront_shape
        sf_reasons = STOREFRONT_REASONS[storefront]
        # PayPal refunds carry no reason in PayPal's own shape.
        p_reasons = {} if processor == "paypal" and "paypal" in self.processor_shapes else PROCESSOR_REASONS[processor]
        storefront_reason = self.rng.choice(list(sf_reasons)) if self.rng.random() < 0.7 else None
        processor_reason = self.rng.choice(list(p_reasons)) if p_reasons and self.rng.random() < 0.6 else None
        if storefront_reason:
            gl_reason_code = sf_reasons[storefront_reason]
        elif processor_reason:
            gl_reason_code = p_reasons[processor_reason]
        else:
            gl_reason_code = None
        return Refund(
            processor_refund_id=f"{prefix}{n:010d}", storefront_refund_id=f"sr_{n:010d}",
            order_id=order_id, processor=processor, storefront=storefront, currency=code,
            exponent=exponent, amount_minor=amount_minor, scope=scope, created_at=created_at,
            confirmed_at=confirmed_at, outcome=outcome, storefront_reason=storefront_reason,
            processor_reason=processor_reason, gl_reason_code=gl_reason_code,
        )

    def mangle(self, value: str) -> str:
        """Mixed case and stray spaces: mapping must be case-insensitive and trimmed."""
        if self.rng.random() < 0.15:
            return " " + value.upper() + "  "
        if self.rng.random() < 0.1:
            return value.title()
        return value

    def processor_rows(self, refund: Refund, final_status: str | None = None,
                       amount_minor: int | None = None) -> list[list[str]]:
        statuses = PROCESSOR_STATUS[refund.processor]
        amount = money(refund.amount_minor if amount_minor is None else amount_minor, refund.exponent)
        payment_id = f"ch_{refund.processor_refund_id[-10:]}"

        def row(status: str, at: datetime) -> list[str]:
            return [refund.processor_refund_id, refund.processor, payment_id, refund.order_id, amount,
                    refund.currency, self.mangle(status), refund.processor_reason or "",
                    self.ts(refund.created_at), self.ts(at)]

        if self.is_current_state(refund.processor):
            # One row in the refund's current state, dated at its creation.
            status = final_status or statuses[refund.outcome]
            return [row(status, refund.created_at)]
        rows = [row(statuses["pending"], refund.created_at + timedelta(seconds=1))]
        if final_status is not None:
            rows.append(row(final_status, refund.created_at + timedelta(seconds=90)))
        elif refund.outcome == "succeeded":
            assert refund.confirmed_at is not None
            rows.append(row(statuses["succeeded"], refund.confirmed_at))
        elif refund.outcome == "failed":
            rows.append(row(statuses["failed"], refund.created_at + timedelta(seconds=self.rng.randint(60, 7200))))
        return rows

    def storefront_row(self, refund: Refund, status: str | None = None, amount_minor: int | None = None,
                       currency: str | None = None, reason: str | None = "default",
                       processor_refund_id: str | None = "default") -> list[str]:
        statuses = STOREFRONT_STATUS[refund.storefront]
        status = status or statuses[refund.outcome]
        updated = (refund.confirmed_at or refund.created_at) + timedelta(seconds=self.rng.randint(1, 30))
        return [
            refund.storefront_refund_id, refund.order_id,
            refund.processor_refund_id if processor_refund_id == "default" else (processor_refund_id or ""),
            money(refund.amount_minor if amount_minor is None else amount_minor, refund.exponent),
            (currency or refund.currency).lower() if self.rng.random() < 0.2 else (currency or refund.currency),
            refund.scope, refund.storefront_reason or "" if reason == "default" else (reason or ""),
            self.mangle(status),
            self.ts(refund.created_at - timedelta(seconds=5)), self.ts(updated),
            self.rng.choice(["online", "pos", "support"]), refund.storefront,
        ]

    def erp_row(self, refund: Refund, gl_account: str | None = None, amount_minor: int | None = None,
                currency: str | None = None, reason_code: str | None = "default",
                received_at: datetime | None = None, posting_period: str | None = None,
                processor_refund_id: str | None = "default", refund_type: str | None = None) -> list[str]:
        n = self.next_id()
        base = refund.confirmed_at or refund.created_at
        received = received_at or base + timedelta(seconds=self.rng.randint(60, 25 * 60))
        posted = received + timedelta(seconds=self.rng.randint(0, 120))
        if gl_account is None:
            gl_account = GL_PARTIAL if refund.scope == "partial" else GL_FULL
        return [
            f"CR-{n:010d}",
            refund.processor_refund_id if processor_refund_id == "default" else (processor_refund_id or ""),
            refund.order_id, gl_account,
            money(refund.amount_minor if amount_minor is None else amount_minor, refund.exponent),
            currency or refund.currency,
            (refund.gl_reason_code or "") if reason_code == "default" else (reason_code or ""),
            refund_type or refund.scope, self.ts(posted), self.ts(received),
            posting_period or self.period(base),
        ]

    def label(self, out: Output, refund_id: str, variance_type: str, system: str,
              delta_minor: int | None, refund: Refund) -> None:
        out.truth.append([refund_id, variance_type, system,
                          "" if delta_minor is None else money(delta_minor, refund.exponent), refund.currency])
        if self.has_calendar and system == "erp" and variance_type in ENTRY_FAULTS:
            # The refund's period (its confirmation's, else its creation's) is
            # closed: the correction needs an adjusting entry elsewhere. Its
            # delta is the ERP's amount minus the processor's.
            period = self.period(refund.confirmed_at or refund.created_at)
            if is_locked(period, self.as_of):
                locked_delta = 0 if variance_type == "duplicate_erp_posting" else delta_minor
                out.truth.append([refund_id, "locked_period_posting", "erp",
                                  "" if locked_delta is None else money(locked_delta, refund.exponent),
                                  refund.currency])

    # -- cases --------------------------------------------------------------
    def case(self) -> tuple[str, Output]:
        draw = self.rng.random()
        if draw < self.fault_rate:
            kind = FAULTS[self.rng.randrange(len(FAULTS))]
        elif draw < self.fault_rate + self.trap_rate:
            kind = TRAPS[self.rng.randrange(len(TRAPS))]
        elif draw < self.fault_rate + self.trap_rate + self.id_fault_rate:
            kind = ID_FAULTS[self.rng.randrange(len(ID_FAULTS))]
        else:
            kind = "clean"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        out = Output()
        getattr(self, "case_" + kind)(out)
        return kind, out

    def single(self, outcome: str = "succeeded", scope: str | None = None, **kwargs) -> Refund:
        order_id = f"ord_{self.next_id():010d}"
        return self.new_refund(order_id, scope or self.rng.choice(["full", "full", "partial"]), outcome, **kwargs)

    def emit_clean(self, out: Output, refund: Refund) -> None:
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        if refund.outcome == "succeeded":
            out.erp.append(self.erp_row(refund))

    def case_clean(self, out: Output) -> None:
        self.emit_clean(out, self.single())

    def case_missing_in_erp(self, out: Output) -> None:
        refund = self.single()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        self.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)

    def case_missing_in_storefront(self, out: Output) -> None:
        refund = self.single()
        # Without the storefront record the processor's reason decides the GL code.
        refund.storefront_reason = None
        refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
        out.processor += self.processor_rows(refund)
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)

    def case_missing_at_processor(self, out: Output) -> None:
        refund = self.single()
        unknown = "" if self.rng.random() < 0.5 else f"re_unknown{self.next_id():08d}"
        out.storefront.append(self.storefront_row(refund, processor_refund_id=unknown))
        self.label(out, refund.storefront_refund_id, "missing_at_processor", "processor", -refund.amount_minor, refund)

    def case_orphan_erp_posting(self, out: Output) -> None:
        refund = self.single()
        self.emit_clean(out, refund)
        ghost = self.single()
        unknown = "" if self.rng.random() < 0.5 else f"re_ghost{self.next_id():08d}"
        row = self.erp_row(ghost, processor_refund_id=unknown)
        out.erp.append(row)
        self.label(out, row[0], "orphan_erp_posting", "erp", ghost.amount_minor, ghost)

    def case_amount_mismatch_erp(self, out: Output) -> None:
        refund = self.single()
        delta = self.rng.choice([1, -1]) * self.rng.randint(1, refund.amount_minor // 2)
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, amount_minor=refund.amount_minor + delta))
        self.label(out, refund.processor_refund_id, "amount_mismatch", "erp", delta, refund)

    def case_amount_mismatch_storefront(self, out: Output) -> None:
        refund = self.single()
        delta = self.rng.choice([1, -1]) * self.rng.randint(1, refund.amount_minor // 2)
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund, amount_minor=refund.amount_minor + delta))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "amount_mismatch", "storefront", delta, refund)

    def case_currency_mismatch_erp(self, out: Output) -> None:
        refund = self.single()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, currency=SAME_EXPONENT_OTHER[refund.currency]))
        self.label(out, refund.processor_refund_id, "currency_mismatch", "erp", None, refund)

    def case_currency_mismatch_storefront(self, out: Output) -> None:
        refund = self.single()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund, currency=SAME_EXPONENT_OTHER[refund.currency]))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "currency_mismatch", "storefront", None, refund)

    def case_status_mismatch_pending_booked(self, out: Output) -> None:
        refund = self.single(outcome="pending")
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "status_mismatch", "erp", 0, refund)

    def case_status_mismatch_failed_booked(self, out: Output) -> None:
        refund = self.single(outcome="failed")
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "status_mismatch", "erp", 0, refund)

    def case_status_mismatch_partial_as_full(self, out: Output) -> None:
        refund = self.single(scope="partial")
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, gl_account=GL_FULL, refund_type="full"))
        self.label(out, refund.processor_refund_id, "status_mismatch", "erp", 0, refund)

    def partial_order(self, count: int) -> list[Refund]:
        order_id = f"ord_{self.next_id():010d}"
        currency = self.rng.choice(CURRENCIES)
        start = self.as_of - timedelta(days=self.rng.randint(2, 50), seconds=self.rng.randint(0, 86399))
        return [self.new_refund(order_id, "partial", created_at=start + timedelta(hours=6 * i), currency=currency)
                for i in range(count)]

    def case_partial_refund_collapsed_sum(self, out: Output) -> None:
        refunds = self.partial_order(self.rng.randint(2, 3))
        total = sum(r.amount_minor for r in refunds)
        for refund in refunds:
            out.processor += self.processor_rows(refund)
            out.storefront.append(self.storefront_row(refund))
        first = refunds[0]
        out.erp.append(self.erp_row(first, amount_minor=total))
        self.label(out, first.processor_refund_id, "partial_refund_collapsed", "erp", total - first.amount_minor, first)
        for refund in refunds[1:]:
            self.label(out, refund.processor_refund_id, "partial_refund_collapsed", "erp", -refund.amount_minor, refund)

    def case_partial_refund_collapsed_overwrite(self, out: Output) -> None:
        refunds = self.partial_order(self.rng.randint(2, 3))
        for refund in refunds:
            out.processor += self.processor_rows(refund)
            out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refunds[-1]))
        for refund in refunds[:-1]:
            self.label(out, refund.processor_refund_id, "partial_refund_collapsed", "erp", -refund.amount_minor, refund)

    def case_duplicate_erp_posting(self, out: Output) -> None:
        refund = self.single()
        self.emit_clean(out, refund)
        assert refund.confirmed_at is not None
        # The duplicate arrives hours later, but before the checkpoint sees the data.
        duplicate_at = min(refund.confirmed_at + timedelta(hours=self.rng.randint(1, 30)), self.as_of - timedelta(minutes=5))
        out.erp.append(self.erp_row(refund, received_at=duplicate_at))
        self.label(out, refund.processor_refund_id, "duplicate_erp_posting", "erp", refund.amount_minor, refund)

    def case_confirmation_lag(self, out: Output) -> None:
        refund = self.single()
        assert refund.confirmed_at is not None
        lag = self.sla + timedelta(minutes=self.rng.randint(5, 600))
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, received_at=refund.confirmed_at + lag))
        self.label(out, refund.processor_refund_id, "confirmation_lag", "erp", 0, refund)

    def case_wrong_period(self, out: Output) -> None:
        refund = self.single()
        assert refund.confirmed_at is not None
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, posting_period=self.next_period(self.period(refund.confirmed_at))))
        self.label(out, refund.processor_refund_id, "wrong_period", "erp", 0, refund)

    def case_unmapped_status_processor(self, out: Output) -> None:
        refund = self.single()
        final_status = self.rng.choice(["settled", "REFUND_SETTLED", "done"])
        if refund.processor == "adyen" and "adyen" in self.processor_shapes:
            final_status = "REFUND_SETTLED"  # an event code Adyen's shape reads as a refund event
        out.processor += self.processor_rows(refund, final_status=final_status)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "unmapped_status", "processor", 0, refund)

    def case_unmapped_status_storefront(self, out: Output) -> None:
        refund = self.single()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund, status=self.rng.choice(["refund_done", "closed"])))
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "unmapped_status", "storefront", 0, refund)

    def case_unmapped_status_erp(self, out: Output) -> None:
        refund = self.single()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, gl_account=GL_UNKNOWN))
        self.label(out, refund.processor_refund_id, "unmapped_status", "erp", 0, refund)

    def case_unmapped_reason_storefront(self, out: Output) -> None:
        refund = self.single()
        refund.storefront_reason = self.rng.choice(["customer_was_unhappy", "gift_return"])
        refund.gl_reason_code = None
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, reason_code=self.rng.choice(["", "RC-OTH"])))
        self.label(out, refund.processor_refund_id, "unmapped_reason", "storefront", 0, refund)

    def case_unmapped_reason_processor(self, out: Output) -> None:
        refund = self.single()
        refund.processor = "stripe"
        refund.processor_refund_id = "re_" + refund.processor_refund_id[-10:]
        if self.is_current_state("stripe"):
            refund.confirmed_at = refund.created_at
        refund.storefront_reason = None
        refund.processor_reason = "product_recall"
        refund.gl_reason_code = None
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, reason_code=""))
        self.label(out, refund.processor_refund_id, "unmapped_reason", "processor", 0, refund)

    def case_reason_mismatch(self, out: Output) -> None:
        refund = self.single()
        if refund.gl_reason_code is None:
            refund.storefront_reason = "damaged" if refund.storefront == "generic" else "defective"
            refund.gl_reason_code = "RC-DMG"
        wrong = self.rng.choice(["", "RC-XXX", "RC-OTH" if refund.gl_reason_code != "RC-OTH" else "RC-CUS"])
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        out.erp.append(self.erp_row(refund, reason_code=wrong))
        self.label(out, refund.processor_refund_id, "reason_mismatch", "erp", 0, refund)

    # -- dropped or mistyped processor refund ids (--id-fault-rate) --------
    def vendor_id(self, processor: str) -> str:
        """A random refund id in the processor's own form (Stripe re_ + 24
        characters, an Adyen pspReference of 16 digits, a PayPal id of 17
        upper-case characters), with at least one digit."""
        if processor == "adyen":
            return "88" + "".join(self.rng.choice("0123456789") for _ in range(14))
        if processor == "paypal":
            body = [self.rng.choice(ID_ALPHABET[:26] + "0123456789") for _ in range(17)]
            prefix = ""
        else:
            body = [self.rng.choice(ID_ALPHABET) for _ in range(24)]
            prefix = "re_" if processor == "stripe" else "pr_"
        body[self.rng.randrange(len(body))] = self.rng.choice("0123456789")
        return prefix + "".join(body)

    def mistype(self, refund_id: str, fault: str) -> str:
        """The id as a faulty integration wrote it."""
        start = 3 if refund_id[:3] in ("re_", "pr_") else 0
        chars = list(refund_id)
        if fault == "dropped":
            return ""
        if fault == "digit_changed":
            where = self.rng.choice([i for i in range(start, len(chars)) if chars[i].isdigit()])
            chars[where] = self.rng.choice([d for d in "0123456789" if d != chars[where]])
        elif fault == "swapped":
            where = self.rng.choice([i for i in range(start, len(chars) - 1) if chars[i] != chars[i + 1]])
            chars[where], chars[where + 1] = chars[where + 1], chars[where]
        else:  # truncated: cut to between 8 characters and all but two
            chars = chars[:self.rng.randint(8, len(chars) - 2)]
        return "".join(chars)

    def id_fault_refund(self) -> Refund:
        refund = self.single()
        refund.processor_refund_id = self.vendor_id(refund.processor)
        return refund

    def case_id_fault_erp(self, out: Output) -> None:
        refund = self.id_fault_refund()
        fault = self.rng.choice(ID_FAULT_KINDS)
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        row = self.erp_row(refund, processor_refund_id=self.mistype(refund.processor_refund_id, fault))
        out.erp.append(row)
        self.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)
        self.label(out, row[0], "orphan_erp_posting", "erp", refund.amount_minor, refund)
        out.pairs.append(["erp", row[0], refund.processor_refund_id, fault])

    def case_id_fault_storefront(self, out: Output) -> None:
        refund = self.id_fault_refund()
        fault = self.rng.choice(ID_FAULT_KINDS)
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(
            refund, processor_refund_id=self.mistype(refund.processor_refund_id, fault)))
        # Unlinked from its storefront record, the processor's reason decides the GL code.
        refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)
        self.label(out, refund.storefront_refund_id, "missing_at_processor", "processor", -refund.amount_minor, refund)
        out.pairs.append(["storefront", refund.storefront_refund_id, refund.processor_refund_id, fault])

    def case_id_twin_erp(self, out: Output) -> None:
        """A refund missing in the ERP and, unrelated to it, a posting the
        processor never made: same currency and amount, within the hour, on
        another order, with no reference. No true counterpart."""
        refund = self.id_fault_refund()
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        self.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)
        twin = self.single(created_at=refund.created_at + timedelta(seconds=self.rng.randint(60, 1800)),
                           currency=(refund.currency, refund.exponent), amount_minor=refund.amount_minor)
        row = self.erp_row(twin, processor_refund_id="")
        out.erp.append(row)
        self.label(out, row[0], "orphan_erp_posting", "erp", twin.amount_minor, twin)

    def case_id_twin_storefront(self, out: Output) -> None:
        """A processor refund with no storefront record and, unrelated to it,
        a storefront refund with no processor id: same currency and amount,
        within the hour, on another order. No true counterpart."""
        refund = self.id_fault_refund()
        refund.storefront_reason = None
        refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
        out.processor += self.processor_rows(refund)
        out.erp.append(self.erp_row(refund))
        self.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)
        twin = self.single(created_at=refund.created_at + timedelta(seconds=self.rng.randint(60, 1800)),
                           currency=(refund.currency, refund.exponent), amount_minor=refund.amount_minor)
        out.storefront.append(self.storefront_row(twin, processor_refund_id=""))
        self.label(out, twin.storefront_refund_id, "missing_at_processor", "processor", -twin.amount_minor, twin)

    # -- clean traps ------------------------------------------------------
    def case_trap_within_sla(self, out: Output) -> None:
        confirmed = self.as_of - timedelta(seconds=self.rng.randint(60, int(self.sla.total_seconds()) - 60))
        refund = self.single(created_at=confirmed - timedelta(seconds=60))
        refund.confirmed_at = confirmed
        if self.is_current_state(refund.processor):
            refund.created_at = confirmed
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))

    def case_trap_pending(self, out: Output) -> None:
        refund = self.single(outcome="pending")
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))

    def case_trap_failed(self, out: Output) -> None:
        refund = self.single(outcome="failed")
        out.processor += self.processor_rows(refund)
        if self.rng.random() < 0.5:
            out.storefront.append(self.storefront_row(refund))

    def case_trap_multi_partial(self, out: Output) -> None:
        for refund in self.partial_order(self.rng.randint(2, 3)):
            self.emit_clean(out, refund)

    def case_trap_month_end(self, out: Output) -> None:
        # Confirmed in the last minutes of a month in the business timezone,
        # written with offsets that put the local text in another day.
        local_now = self.as_of.replace(tzinfo=timezone.utc).astimezone(self.tz)
        previous_month = local_now.replace(day=1) - timedelta(days=1)
        month_start = previous_month.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        local_confirmed = month_start - timedelta(minutes=self.rng.randint(2, 25))
        confirmed = local_confirmed.astimezone(timezone.utc).replace(tzinfo=None)
        refund = self.single(created_at=confirmed - timedelta(seconds=90))
        refund.confirmed_at = confirmed
        if self.is_current_state(refund.processor):
            refund.created_at = confirmed
        self.emit_clean(out, refund)

    def case_trap_duplicate_rows(self, out: Output) -> None:
        refund = self.single()
        self.emit_clean(out, refund)
        out.processor.append(list(out.processor[-1]))
        out.storefront.append(list(out.storefront[-1]))
        out.erp.append(list(out.erp[-1]))

    def case_trap_reversed(self, out: Output) -> None:
        refund = self.single()
        assert refund.confirmed_at is not None
        reversed_status = {"stripe": "failed", "adyen": "refunded_reversed", "paypal": "FAILED",
                           "generic": "failed"}[refund.processor]
        if self.is_current_state(refund.processor):
            out.processor += self.processor_rows(refund, final_status=reversed_status)
        else:
            rows = self.processor_rows(refund)
            reversal = list(rows[-1])
            reversal[6] = reversed_status
            reversal[9] = self.ts(refund.confirmed_at + timedelta(days=1))
            out.processor += rows + [reversal]
        out.storefront.append(self.storefront_row(refund, status=STOREFRONT_STATUS[refund.storefront]["failed"]))
        out.erp.append(self.erp_row(refund))
        out.erp.append(self.erp_row(refund, gl_account=GL_REVERSED,
                                    received_at=refund.confirmed_at + timedelta(days=1, minutes=5)))

    # -- rows that must be rejected --------------------------------------
    def bad_rows(self, count: int) -> Output:
        out = Output()
        for i in range(count):
            n = self.next_id()
            kind = i % 6
            when = self.ts(self.as_of - timedelta(days=3))
            if kind == 0:
                out.storefront.append(["", f"ord_bad{n}", "", "10.00", "USD", "full", "", "succeeded", when, when, "online", "generic"])
                out.rejections.append(["storefront_refunds", "", "storefront_refund_id", "missing storefront_refund_id"])
            elif kind == 1:
                out.processor.append([f"re_bad{n:08d}", "stripe", "", "", "12,50", "USD", "succeeded", "", when, when])
                out.rejections.append(["processor_refunds", f"re_bad{n:08d}", "amount", "unparseable amount"])
            elif kind == 2:
                out.erp.append([f"CR-bad{n}", "", "", GL_FULL, "9.99", "XXX", "", "full", when, when, ""])
                out.rejections.append(["erp_refund_postings", f"CR-bad{n}", "currency", "unknown currency code"])
            elif kind == 3:
                out.storefront.append([f"sr_bad{n}", f"ord_bad{n}", "", "-5.00", "EUR", "partial", "", "succeeded", when, when, "pos", "generic"])
                out.rejections.append(["storefront_refunds", f"sr_bad{n}", "amount", "negative amount"])
            elif kind == 4:
                out.processor.append([f"re_bad{n:08d}", "stripe", "", "", "100", "JPY", "succeeded", "", "2026-02-30T10:00:00Z", when])
                out.rejections.append(["processor_refunds", f"re_bad{n:08d}", "created_at", "unparseable timestamp in created_at"])
            else:
                out.erp.append([f"CR-bad{n}", "", "", GL_FULL, "1.2345", "KWD", "", "full", when, when, ""])
                out.rejections.append(["erp_refund_postings", f"CR-bad{n}", "amount", "more decimals than the currency allows"])
        return out


def parse_utc(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if value.tzinfo is not None:
        value = value.astimezone(timezone.utc).replace(tzinfo=None)
    return value


def batches(scenario: Scenario, refunds: int, bad_rows: int, chunk: int = 5000) -> Iterator[Output]:
    """Cases in chunks, each shuffled so files are not in case order."""
    done = 0
    while done < refunds:
        out = Output()
        target = min(chunk, refunds - done)
        while target > 0:
            _, case_out = scenario.case()
            for name in ("storefront", "processor", "erp", "truth", "rejections", "pairs"):
                getattr(out, name).extend(getattr(case_out, name))
            # A case counts as many refunds as the processor rows it created, at least one.
            made = max(1, len({row[0] for row in case_out.processor}))
            target -= made
            done += made
        if done >= refunds and bad_rows:
            extra = scenario.bad_rows(bad_rows)
            for name in ("storefront", "processor", "erp", "rejections"):
                getattr(out, name).extend(getattr(extra, name))
        for rows in (out.storefront, out.processor, out.erp):
            scenario.rng.shuffle(rows)
        yield out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, type=Path, help="folder to write the scenario into")
    parser.add_argument("--refunds", type=int, default=500, help="about how many processor refunds (default 500)")
    parser.add_argument("--seed", type=int, default=7, help="random seed: same seed, same files")
    parser.add_argument("--fault-rate", type=float, default=0.3, help="share of cases with one injected fault")
    parser.add_argument("--trap-rate", type=float, default=0.2, help="share of cases that are clean traps")
    parser.add_argument("--id-fault-rate", type=float, default=0.0,
                        help="share of cases with a dropped or mistyped processor refund id on an ERP posting or "
                             "storefront row, or a near twin with no true counterpart (default 0: off); "
                             "writes suggestion_truth.csv")
    parser.add_argument("--bad-rows", type=int, default=12, help="input rows that must be rejected")
    parser.add_argument("--as-of", default="2026-03-01T00:00:00Z", help="the checkpoint clock the labels assume")
    parser.add_argument("--sla-minutes", type=int, default=30, help="confirmation SLA the labels assume")
    parser.add_argument("--business-timezone", default="UTC", help="timezone of accounting periods")
    parser.add_argument("--format", choices=["csv", "parquet"], default="csv", help="input file format")
    parser.add_argument("--processor-shapes", nargs="+", choices=PROCESSOR_SHAPES, default=["generic"],
                        help="write processor refunds in these shapes; refunds are spread over them")
    parser.add_argument("--storefront-shape", choices=["generic", "shopify"], default="generic",
                        help="write storefront refunds in this shape")
    parser.add_argument("--erp-shape", choices=["generic", "netsuite"], default="generic",
                        help="write ERP postings in this shape")
    args = parser.parse_args(argv)
    if not 0 <= args.fault_rate + args.trap_rate + args.id_fault_rate <= 1 or args.id_fault_rate < 0:
        parser.error("--fault-rate plus --trap-rate plus --id-fault-rate must be between 0 and 1")
    args.processor_shapes = list(dict.fromkeys(args.processor_shapes))
    if args.processor_shapes == ["adyen"]:
        parser.error("adyen alone cannot carry pending refunds (it notifies none): add another processor shape")

    scenario = Scenario(args)
    if scenario.shaped and args.format != "csv":
        parser.error("shaped inputs are written as CSV only")
    if scenario.shaped and args.id_fault_rate:
        parser.error("--id-fault-rate writes the generic input format only")
    args.out.mkdir(parents=True, exist_ok=True)
    for stale in args.out.glob("*"):
        if stale.suffix in (".csv", ".parquet") and stale.stem in (
                "storefront_refunds", "processor_refunds", "erp_refund_postings"):
            stale.unlink()
        elif stale.name == "suggestion_truth.csv":
            stale.unlink()
        elif stale.is_dir() and stale.name in ("stripe", "adyen", "paypal", "shopify", "netsuite"):
            for table in stale.glob("*.csv"):
                table.unlink()
    shapes = ShapeWriters(args.out, args.processor_shapes, args.storefront_shape, args.erp_shape,
                          scenario.as_of, scenario.tz, args.seed) if scenario.shaped else None
    generic_roles = {"storefront": args.storefront_shape == "generic",
                     "processor": "generic" in args.processor_shapes, "erp": args.erp_shape == "generic"}

    suffix = ".csv" if args.format == "csv" else ".parquet.csv.tmp"
    files = {
        "storefront": (args.out / f"storefront_refunds{suffix}", STOREFRONT_COLUMNS),
        "processor": (args.out / f"processor_refunds{suffix}", PROCESSOR_COLUMNS),
        "erp": (args.out / f"erp_refund_postings{suffix}", ERP_COLUMNS),
        "truth": (args.out / "ground_truth.csv", TRUTH_COLUMNS),
        "rejections": (args.out / "expected_rejections.csv", REJECTION_COLUMNS),
    }
    if args.id_fault_rate:
        files["pairs"] = (args.out / "suggestion_truth.csv", SUGGESTION_COLUMNS)
    files = {name: spec for name, spec in files.items() if generic_roles.get(name, True)}
    handles = {name: open(path, "w", newline="", encoding="utf-8") for name, (path, _) in files.items()}
    writers = {name: csv.writer(handles[name]) for name in files}
    for name, (_, columns) in files.items():
        writers[name].writerow(columns)
    rows_written = dict.fromkeys(files, 0)
    try:
        for out in batches(scenario, args.refunds, args.bad_rows):
            generic_rows: dict[str, list[list[str]]] = {}
            if shapes is not None:
                shapes.write_batch(out.storefront, out.processor, out.erp, generic_rows)
            for name in files:
                rows = generic_rows.get(name, []) if shapes is not None and name in generic_roles \
                    else getattr(out, name)
                writers[name].writerows(rows)
                rows_written[name] += len(rows)
    finally:
        for handle in handles.values():
            handle.close()
        shape_rows = shapes.close() if shapes is not None else {}

    if args.format == "parquet":
        import pyarrow.csv as pacsv
        import pyarrow.parquet as pq

        for name in ("storefront", "processor", "erp"):
            path, columns = files[name]
            table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(
                column_types=dict.fromkeys(columns, "string"), strings_can_be_null=True))
            pq.write_table(table, path.with_name(path.name.replace(".parquet.csv.tmp", ".parquet")))
            path.unlink()

    summary = {
        "as_of": args.as_of, "confirmation_sla_minutes": args.sla_minutes,
        "business_timezone": args.business_timezone, "amount_tolerance": 0,
        "seed": args.seed, "refunds_requested": args.refunds, "format": args.format,
        "rows": {name: rows_written[name] for name in files} | shape_rows,
        "dbt_vars": {
            "storefront_shapes": [args.storefront_shape], "processor_shapes": args.processor_shapes,
            "erp_shapes": [args.erp_shape],
            **({"netsuite_order_id_field": "custbody_order_id"} if args.erp_shape == "netsuite" else {}),
        },
        "cases": dict(sorted(scenario.counts.items())),
    }
    if args.id_fault_rate:
        summary["id_fault_rate"] = args.id_fault_rate
    (args.out / "scenario.json").write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary["rows"]), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
