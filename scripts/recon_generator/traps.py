"""Clean traps: cases a careless reconciliation flags, and which carry no label.

A refund confirmed inside the SLA with no ERP entry yet, pending and failed
refunds with no ERP entry, correct multi-partial orders, a refund reversed by
the processor with its ERP reversal, confirmations near midnight at month end
written with offsets, and duplicate export rows.
"""

from __future__ import annotations

from datetime import timedelta, timezone
from typing import TYPE_CHECKING

from .vocabulary import GL_REVERSED, STOREFRONT_STATUS

if TYPE_CHECKING:
    from .scenario import Case, Output, Scenario


def trap_within_sla(s: Scenario, out: Output) -> None:
    confirmed = s.as_of - timedelta(seconds=s.rng.randint(60, int(s.sla.total_seconds()) - 60))
    refund = s.single(created_at=confirmed - timedelta(seconds=60))
    refund.confirmed_at = confirmed
    if s.is_current_state(refund.processor):
        refund.created_at = confirmed
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))


def trap_pending(s: Scenario, out: Output) -> None:
    refund = s.single(outcome="pending")
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))


def trap_failed(s: Scenario, out: Output) -> None:
    refund = s.single(outcome="failed")
    out.processor += s.processor_rows(refund)
    if s.rng.random() < 0.5:
        out.storefront.append(s.storefront_row(refund))


def trap_multi_partial(s: Scenario, out: Output) -> None:
    for refund in s.partial_order(s.rng.randint(2, 3)):
        s.emit_clean(out, refund)


def trap_month_end(s: Scenario, out: Output) -> None:
    # Confirmed in the last minutes of a month in the business timezone,
    # written with offsets that put the local text in another day.
    local_now = s.as_of.replace(tzinfo=timezone.utc).astimezone(s.tz)
    previous_month = local_now.replace(day=1) - timedelta(days=1)
    month_start = previous_month.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    local_confirmed = month_start - timedelta(minutes=s.rng.randint(2, 25))
    confirmed = local_confirmed.astimezone(timezone.utc).replace(tzinfo=None)
    refund = s.single(created_at=confirmed - timedelta(seconds=90))
    refund.confirmed_at = confirmed
    if s.is_current_state(refund.processor):
        refund.created_at = confirmed
    s.emit_clean(out, refund)


def trap_duplicate_rows(s: Scenario, out: Output) -> None:
    refund = s.single()
    s.emit_clean(out, refund)
    out.processor.append(list(out.processor[-1]))
    out.storefront.append(list(out.storefront[-1]))
    out.erp.append(list(out.erp[-1]))


def trap_reversed(s: Scenario, out: Output) -> None:
    refund = s.single()
    assert refund.confirmed_at is not None
    reversed_status = {"stripe": "failed", "adyen": "refunded_reversed", "paypal": "FAILED",
                       "generic": "failed"}[refund.processor]
    if s.is_current_state(refund.processor):
        out.processor += s.processor_rows(refund, final_status=reversed_status)
    else:
        rows = s.processor_rows(refund)
        reversal = list(rows[-1])
        reversal[6] = reversed_status
        reversal[9] = s.ts(refund.confirmed_at + timedelta(days=1))
        out.processor += rows + [reversal]
    out.storefront.append(s.storefront_row(refund, status=STOREFRONT_STATUS[refund.storefront]["failed"]))
    out.erp.append(s.erp_row(refund))
    out.erp.append(s.erp_row(refund, gl_account=GL_REVERSED,
                                received_at=refund.confirmed_at + timedelta(days=1, minutes=5)))


# Every clean trap by name, in the order the seed draws them.
TRAPS: dict[str, Case] = {
    "trap_within_sla": trap_within_sla,
    "trap_pending": trap_pending,
    "trap_failed": trap_failed,
    "trap_multi_partial": trap_multi_partial,
    "trap_month_end": trap_month_end,
    "trap_duplicate_rows": trap_duplicate_rows,
    "trap_reversed": trap_reversed,
}
