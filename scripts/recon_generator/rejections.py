"""Rows that must be rejected (--bad-rows), each with its expected rejection.

A missing id, an unparseable amount, an unknown currency, a negative amount,
an impossible date and more decimals than the currency allows: one row of
expected_rejections.csv each (input_name, record_id, rejected_column,
rejection_reason), the reasons as the project words them.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from .vocabulary import GL_FULL

if TYPE_CHECKING:
    from .scenario import Output, Scenario


def bad_rows(s: Scenario, count: int, out: Output) -> None:
    """`count` rows in turn of six kinds, each with the rejection it must get."""
    for i in range(count):
        n = s.next_id()
        kind = i % 6
        when = s.ts(s.as_of - timedelta(days=3))
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
