"""Faults: one defect in one refund case, and the variance labels it must produce.

Each function builds a case's rows through the scenario and labels what the
project must report (variance-rules.md): the labels follow from the fault
alone, never from re-running the project's own rules.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .vocabulary import GL_FULL, GL_UNKNOWN, PROCESSOR_REASONS, SAME_EXPONENT_OTHER

if TYPE_CHECKING:
    from .scenario import Case, Output, Scenario


def missing_in_erp(s: Scenario, out: Output) -> None:
    refund = s.single()
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    s.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)


def missing_in_storefront(s: Scenario, out: Output) -> None:
    refund = s.single()
    # Without the storefront record the processor's reason decides the GL code.
    refund.storefront_reason = None
    refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
    out.processor += s.processor_rows(refund)
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)


def missing_at_processor(s: Scenario, out: Output) -> None:
    refund = s.single()
    unknown = "" if s.rng.random() < 0.5 else f"re_unknown{s.next_id():08d}"
    out.storefront.append(s.storefront_row(refund, processor_refund_id=unknown))
    s.label(out, refund.storefront_refund_id, "missing_at_processor", "processor", -refund.amount_minor, refund)


def orphan_erp_posting(s: Scenario, out: Output) -> None:
    refund = s.single()
    s.emit_clean(out, refund)
    ghost = s.single()
    unknown = "" if s.rng.random() < 0.5 else f"re_ghost{s.next_id():08d}"
    row = s.erp_row(ghost, processor_refund_id=unknown)
    out.erp.append(row)
    s.label(out, row[0], "orphan_erp_posting", "erp", ghost.amount_minor, ghost)


def amount_mismatch_erp(s: Scenario, out: Output) -> None:
    refund = s.single()
    delta = s.rng.choice([1, -1]) * s.rng.randint(1, refund.amount_minor // 2)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, amount_minor=refund.amount_minor + delta))
    s.label(out, refund.processor_refund_id, "amount_mismatch", "erp", delta, refund)


def amount_mismatch_storefront(s: Scenario, out: Output) -> None:
    refund = s.single()
    delta = s.rng.choice([1, -1]) * s.rng.randint(1, refund.amount_minor // 2)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund, amount_minor=refund.amount_minor + delta))
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "amount_mismatch", "storefront", delta, refund)


def currency_mismatch_erp(s: Scenario, out: Output) -> None:
    refund = s.single()
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, currency=SAME_EXPONENT_OTHER[refund.currency]))
    s.label(out, refund.processor_refund_id, "currency_mismatch", "erp", None, refund)


def currency_mismatch_storefront(s: Scenario, out: Output) -> None:
    refund = s.single()
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund, currency=SAME_EXPONENT_OTHER[refund.currency]))
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "currency_mismatch", "storefront", None, refund)


def _booked_though(s: Scenario, out: Output, outcome: str) -> None:
    """A refund the processor left at `outcome` that the ERP booked as completed."""
    refund = s.single(outcome=outcome)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "status_mismatch", "erp", 0, refund)


def status_mismatch_pending_booked(s: Scenario, out: Output) -> None:
    _booked_though(s, out, "pending")


def status_mismatch_failed_booked(s: Scenario, out: Output) -> None:
    _booked_though(s, out, "failed")


def status_mismatch_partial_as_full(s: Scenario, out: Output) -> None:
    refund = s.single(scope="partial")
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, gl_account=GL_FULL, refund_type="full"))
    s.label(out, refund.processor_refund_id, "status_mismatch", "erp", 0, refund)


def partial_refund_collapsed_sum(s: Scenario, out: Output) -> None:
    refunds = s.partial_order(s.rng.randint(2, 3))
    total = sum(r.amount_minor for r in refunds)
    for refund in refunds:
        out.processor += s.processor_rows(refund)
        out.storefront.append(s.storefront_row(refund))
    first = refunds[0]
    out.erp.append(s.erp_row(first, amount_minor=total))
    s.label(out, first.processor_refund_id, "partial_refund_collapsed", "erp", total - first.amount_minor, first)
    for refund in refunds[1:]:
        s.label(out, refund.processor_refund_id, "partial_refund_collapsed", "erp", -refund.amount_minor, refund)


def partial_refund_collapsed_overwrite(s: Scenario, out: Output) -> None:
    refunds = s.partial_order(s.rng.randint(2, 3))
    for refund in refunds:
        out.processor += s.processor_rows(refund)
        out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refunds[-1]))
    for refund in refunds[:-1]:
        s.label(out, refund.processor_refund_id, "partial_refund_collapsed", "erp", -refund.amount_minor, refund)


def duplicate_erp_posting(s: Scenario, out: Output) -> None:
    refund = s.single()
    s.emit_clean(out, refund)
    assert refund.confirmed_at is not None
    # The duplicate arrives hours later, but before the checkpoint sees the data.
    duplicate_at = min(refund.confirmed_at + timedelta(hours=s.rng.randint(1, 30)), s.as_of - timedelta(minutes=5))
    out.erp.append(s.erp_row(refund, received_at=duplicate_at))
    s.label(out, refund.processor_refund_id, "duplicate_erp_posting", "erp", refund.amount_minor, refund)


def confirmation_lag(s: Scenario, out: Output) -> None:
    refund = s.single()
    assert refund.confirmed_at is not None
    lag = s.sla + timedelta(minutes=s.rng.randint(5, 600))
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, received_at=refund.confirmed_at + lag))
    s.label(out, refund.processor_refund_id, "confirmation_lag", "erp", 0, refund)


def wrong_period(s: Scenario, out: Output) -> None:
    refund = s.single()
    assert refund.confirmed_at is not None
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, posting_period=s.next_period(s.period(refund.confirmed_at))))
    s.label(out, refund.processor_refund_id, "wrong_period", "erp", 0, refund)


def unmapped_status_processor(s: Scenario, out: Output) -> None:
    refund = s.single()
    final_status = s.rng.choice(["settled", "REFUND_SETTLED", "done"])
    if refund.processor == "adyen" and "adyen" in s.processor_shapes:
        final_status = "REFUND_SETTLED"  # an event code Adyen's shape reads as a refund event
    out.processor += s.processor_rows(refund, final_status=final_status)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "unmapped_status", "processor", 0, refund)


def unmapped_status_storefront(s: Scenario, out: Output) -> None:
    refund = s.single()
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund, status=s.rng.choice(["refund_done", "closed"])))
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "unmapped_status", "storefront", 0, refund)


def unmapped_status_erp(s: Scenario, out: Output) -> None:
    refund = s.single()
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, gl_account=GL_UNKNOWN))
    s.label(out, refund.processor_refund_id, "unmapped_status", "erp", 0, refund)


def unmapped_reason_storefront(s: Scenario, out: Output) -> None:
    refund = s.single()
    refund.storefront_reason = s.rng.choice(["customer_was_unhappy", "gift_return"])
    refund.gl_reason_code = None
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, reason_code=s.rng.choice(["", "RC-OTH"])))
    s.label(out, refund.processor_refund_id, "unmapped_reason", "storefront", 0, refund)


def unmapped_reason_processor(s: Scenario, out: Output) -> None:
    refund = s.single()
    refund.processor = "stripe"
    refund.processor_refund_id = "re_" + refund.processor_refund_id[-10:]
    if s.is_current_state("stripe"):
        refund.confirmed_at = refund.created_at
    refund.storefront_reason = None
    refund.processor_reason = "product_recall"
    refund.gl_reason_code = None
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, reason_code=""))
    s.label(out, refund.processor_refund_id, "unmapped_reason", "processor", 0, refund)


def reason_mismatch(s: Scenario, out: Output) -> None:
    refund = s.single()
    if refund.gl_reason_code is None:
        refund.storefront_reason = "damaged" if refund.storefront == "generic" else "defective"
        refund.gl_reason_code = "RC-DMG"
    wrong = s.rng.choice(["", "RC-XXX", "RC-OTH" if refund.gl_reason_code != "RC-OTH" else "RC-CUS"])
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    out.erp.append(s.erp_row(refund, reason_code=wrong))
    s.label(out, refund.processor_refund_id, "reason_mismatch", "erp", 0, refund)


# Every fault by name, in the order the seed draws them: same seed, same files.
FAULTS: dict[str, Case] = {
    "missing_in_erp": missing_in_erp,
    "missing_in_storefront": missing_in_storefront,
    "missing_at_processor": missing_at_processor,
    "orphan_erp_posting": orphan_erp_posting,
    "amount_mismatch_erp": amount_mismatch_erp,
    "amount_mismatch_storefront": amount_mismatch_storefront,
    "currency_mismatch_erp": currency_mismatch_erp,
    "currency_mismatch_storefront": currency_mismatch_storefront,
    "status_mismatch_pending_booked": status_mismatch_pending_booked,
    "status_mismatch_failed_booked": status_mismatch_failed_booked,
    "status_mismatch_partial_as_full": status_mismatch_partial_as_full,
    "partial_refund_collapsed_sum": partial_refund_collapsed_sum,
    "partial_refund_collapsed_overwrite": partial_refund_collapsed_overwrite,
    "duplicate_erp_posting": duplicate_erp_posting,
    "confirmation_lag": confirmation_lag,
    "wrong_period": wrong_period,
    "unmapped_status_processor": unmapped_status_processor,
    "unmapped_status_storefront": unmapped_status_storefront,
    "unmapped_status_erp": unmapped_status_erp,
    "unmapped_reason_storefront": unmapped_reason_storefront,
    "unmapped_reason_processor": unmapped_reason_processor,
    "reason_mismatch": reason_mismatch,
}
