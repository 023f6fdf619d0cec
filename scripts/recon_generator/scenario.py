"""The scenario: refund cases drawn from one seed, as rows in the generic format.

A ``Scenario`` draws each case (clean, one fault, a clean trap, an id fault)
and builds its rows; the cases themselves live in faults.py, traps.py and
id_faults.py, the rows that must be rejected in rejections.py. Every draw
comes from the one seeded generator, in a fixed order: same seed, same files.
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable, Iterator
from zoneinfo import ZoneInfo

from . import faults, id_faults, rejections, traps
from .clock import is_locked, parse_instant
from .vocabulary import (
    CURRENCIES, ENTRY_FAULTS, GL_FULL, GL_PARTIAL, OFFSETS, PROCESSOR_REASONS, PROCESSOR_STATUS,
    STOREFRONT_REASONS, STOREFRONT_STATUS,
)


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
        self.as_of = parse_instant(args.as_of)
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

    def single(self, outcome: str = "succeeded", scope: str | None = None, **kwargs) -> Refund:
        order_id = f"ord_{self.next_id():010d}"
        return self.new_refund(order_id, scope or self.rng.choice(["full", "full", "partial"]), outcome, **kwargs)

    def partial_order(self, count: int) -> list[Refund]:
        order_id = f"ord_{self.next_id():010d}"
        currency = self.rng.choice(CURRENCIES)
        start = self.as_of - timedelta(days=self.rng.randint(2, 50), seconds=self.rng.randint(0, 86399))
        return [self.new_refund(order_id, "partial", created_at=start + timedelta(hours=6 * i), currency=currency)
                for i in range(count)]

    # -- rows -------------------------------------------------------------
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

    def emit_clean(self, out: Output, refund: Refund) -> None:
        out.processor += self.processor_rows(refund)
        out.storefront.append(self.storefront_row(refund))
        if refund.outcome == "succeeded":
            out.erp.append(self.erp_row(refund))

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
        """One case by one draw: a fault, a trap, an id fault, else clean."""
        draw = self.rng.random()
        if draw < self.fault_rate:
            kind = self.pick(faults.FAULTS)
        elif draw < self.fault_rate + self.trap_rate:
            kind = self.pick(traps.TRAPS)
        elif draw < self.fault_rate + self.trap_rate + self.id_fault_rate:
            kind = self.pick(id_faults.ID_FAULTS)
        else:
            kind = "clean"
        self.counts[kind] = self.counts.get(kind, 0) + 1
        out = Output()
        CASES[kind](self, out)
        return kind, out

    def pick(self, cases: dict[str, Case]) -> str:
        return list(cases)[self.rng.randrange(len(cases))]


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
            rejections.bad_rows(scenario, bad_rows, out)
        for rows in (out.storefront, out.processor, out.erp):
            scenario.rng.shuffle(rows)
        yield out


def case_clean(s: Scenario, out: Output) -> None:
    s.emit_clean(out, s.single())


Case = Callable[[Scenario, Output], None]
# Every case by name: the names are the counts' keys in scenario.json.
CASES: dict[str, Case] = {"clean": case_clean, **faults.FAULTS, **traps.TRAPS, **id_faults.ID_FAULTS}
