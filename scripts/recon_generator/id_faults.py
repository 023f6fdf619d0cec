"""Id faults (--id-fault-rate): processor refund ids dropped or mistyped, and near twins.

That share of cases drops or mistypes the processor refund id (dropped, one
digit changed, two adjacent characters swapped, truncated) on an ERP posting
or a storefront row, the refund keeping vendor-like random ids as real
processors issue them; as many cases are near twins with no true
counterpart: an unlinked record in the same currency, of the same amount and
within the hour of an unrelated unlinked processor refund, on another order.
Each true counterpart is a row of suggestion_truth.csv (``out.pairs``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .vocabulary import PROCESSOR_REASONS

if TYPE_CHECKING:
    from .scenario import Case, Output, Refund, Scenario

ID_FAULT_KINDS = ["dropped", "digit_changed", "swapped", "truncated"]
ID_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


def vendor_id(s: Scenario, processor: str) -> str:
    """A random refund id in the processor's own form (Stripe re_ + 24
    characters, an Adyen pspReference of 16 digits, a PayPal id of 17
    upper-case characters), with at least one digit."""
    if processor == "adyen":
        return "88" + "".join(s.rng.choice("0123456789") for _ in range(14))
    if processor == "paypal":
        body = [s.rng.choice(ID_ALPHABET[:26] + "0123456789") for _ in range(17)]
        prefix = ""
    else:
        body = [s.rng.choice(ID_ALPHABET) for _ in range(24)]
        prefix = "re_" if processor == "stripe" else "pr_"
    body[s.rng.randrange(len(body))] = s.rng.choice("0123456789")
    return prefix + "".join(body)


def mistype(s: Scenario, refund_id: str, fault: str) -> str:
    """The id as a faulty integration wrote it."""
    start = 3 if refund_id[:3] in ("re_", "pr_") else 0
    chars = list(refund_id)
    if fault == "dropped":
        return ""
    if fault == "digit_changed":
        where = s.rng.choice([i for i in range(start, len(chars)) if chars[i].isdigit()])
        chars[where] = s.rng.choice([d for d in "0123456789" if d != chars[where]])
    elif fault == "swapped":
        where = s.rng.choice([i for i in range(start, len(chars) - 1) if chars[i] != chars[i + 1]])
        chars[where], chars[where + 1] = chars[where + 1], chars[where]
    else:  # truncated: cut to between 8 characters and all but two
        chars = chars[:s.rng.randint(8, len(chars) - 2)]
    return "".join(chars)


def id_fault_refund(s: Scenario) -> Refund:
    refund = s.single()
    refund.processor_refund_id = vendor_id(s, refund.processor)
    return refund


def id_fault_erp(s: Scenario, out: Output) -> None:
    refund = id_fault_refund(s)
    fault = s.rng.choice(ID_FAULT_KINDS)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    row = s.erp_row(refund, processor_refund_id=mistype(s, refund.processor_refund_id, fault))
    out.erp.append(row)
    s.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)
    s.label(out, row[0], "orphan_erp_posting", "erp", refund.amount_minor, refund)
    out.pairs.append(["erp", row[0], refund.processor_refund_id, fault])


def id_fault_storefront(s: Scenario, out: Output) -> None:
    refund = id_fault_refund(s)
    fault = s.rng.choice(ID_FAULT_KINDS)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(
        refund, processor_refund_id=mistype(s, refund.processor_refund_id, fault)))
    # Unlinked from its storefront record, the processor's reason decides the GL code.
    refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)
    s.label(out, refund.storefront_refund_id, "missing_at_processor", "processor", -refund.amount_minor, refund)
    out.pairs.append(["storefront", refund.storefront_refund_id, refund.processor_refund_id, fault])


def id_twin_erp(s: Scenario, out: Output) -> None:
    """A refund missing in the ERP and, unrelated to it, a posting the
    processor never made: same currency and amount, within the hour, on
    another order, with no reference. No true counterpart."""
    refund = id_fault_refund(s)
    out.processor += s.processor_rows(refund)
    out.storefront.append(s.storefront_row(refund))
    s.label(out, refund.processor_refund_id, "missing_in_erp", "erp", -refund.amount_minor, refund)
    twin = s.single(created_at=refund.created_at + timedelta(seconds=s.rng.randint(60, 1800)),
                       currency=(refund.currency, refund.exponent), amount_minor=refund.amount_minor)
    row = s.erp_row(twin, processor_refund_id="")
    out.erp.append(row)
    s.label(out, row[0], "orphan_erp_posting", "erp", twin.amount_minor, twin)


def id_twin_storefront(s: Scenario, out: Output) -> None:
    """A processor refund with no storefront record and, unrelated to it,
    a storefront refund with no processor id: same currency and amount,
    within the hour, on another order. No true counterpart."""
    refund = id_fault_refund(s)
    refund.storefront_reason = None
    refund.gl_reason_code = PROCESSOR_REASONS[refund.processor].get(refund.processor_reason or "")
    out.processor += s.processor_rows(refund)
    out.erp.append(s.erp_row(refund))
    s.label(out, refund.processor_refund_id, "missing_in_storefront", "storefront", -refund.amount_minor, refund)
    twin = s.single(created_at=refund.created_at + timedelta(seconds=s.rng.randint(60, 1800)),
                       currency=(refund.currency, refund.exponent), amount_minor=refund.amount_minor)
    out.storefront.append(s.storefront_row(twin, processor_refund_id=""))
    s.label(out, twin.storefront_refund_id, "missing_at_processor", "processor", -twin.amount_minor, twin)


# Every id fault by name, in the order the seed draws them.
ID_FAULTS: dict[str, Case] = {
    "id_fault_erp": id_fault_erp,
    "id_fault_storefront": id_fault_storefront,
    "id_twin_erp": id_twin_erp,
    "id_twin_storefront": id_twin_storefront,
}
