"""The checkpoint message and its webhook payload, with hand-written inputs
(report_inputs.py, no dbt): money at stake per currency at the currency's
exponent, the five largest variances within each currency with their detail
sentence, new and resolved, where the report is, and Slack escaping of every
data field.

Runs in about a second: `.venv/bin/pytest tests/python/test_message.py`.
"""

from __future__ import annotations

import re
from decimal import Decimal

import report_inputs as given
from recon_runner.message import largest, message
from recon_runner.notify import slack_payload

HOSTILE = given.SLACK_HOSTILE
ESCAPED = "&lt;!channel&gt; &lt;https://x|Click&gt;"


def test_money_at_stake_per_currency_at_its_exponent() -> None:
    text = message(given.summary(report_path="/srv/reports/cp_20260301T000000Z/report.html"), given.variances())
    assert ("At stake: EUR: 1 variance without a comparable amount; JPY 37,224 on 1 refund; "
            "KWD 66.967 on 1 refund; USD 475.50 on 4 refunds.") in text
    assert "New since the last checkpoint: 3; resolved: 1." in text
    assert "Why: 8 open variances; 2 input rows rejected (fct_rejected_rows)." in text
    assert "JPY storefront 1,234,567 / processor 1,234,567 / ERP 1,197,343, net variance (ERP - storefront) -37,224" \
        in text
    assert not re.search(r"\d\.\d{4}\b", text) and "37224.0" not in text
    assert text.endswith("Report: /srv/reports/cp_20260301T000000Z/report.html")


def test_the_largest_variances_within_each_currency_with_their_detail() -> None:
    text = message(given.summary(), given.variances())
    block = text[text.index("Largest in USD:"):text.index("Oldest:")].splitlines()
    assert block == [
        "Largest in USD:",
        "  - missing_in_erp re_usd_big USD -398.00 (erp at fault): missing_in_erp on re_usd_big.",
        "  - confirmation_lag re_usd_mid USD 40.00 (processor at fault): confirmation_lag on re_usd_mid.",
        "  - missing_in_storefront <script>alert(1)</script> USD -25.00 (storefront at fault): <b>bold</b> & more",
        "  - amount_mismatch re_usd_small USD -12.50 (erp at fault): amount_mismatch on re_usd_small.",
        "Largest in JPY:",
        "  - amount_mismatch re_jpy JPY -37,224 (erp at fault): amount_mismatch on re_jpy.",
        "Largest in KWD:",
        "  - duplicate_erp_posting re_kwd KWD 66.967 (erp at fault): duplicate_erp_posting on re_kwd.",
    ]


def test_largest_is_the_top_five_by_absolute_amount_within_each_currency() -> None:
    usd = [{"refund_id": f"u{n}", "currency": "USD", "amount_delta": Decimal(value)}
           for n, value in enumerate(["-1.00", "700.00", "-650.00", "3.00", "0", "-2.00", "5.00", "-4.00"])]
    jpy = [{"refund_id": "y", "currency": "JPY", "amount_delta": Decimal("-90000")}]
    eur = [{"refund_id": "e", "currency": "EUR", "amount_delta": None}]
    ranked = largest(jpy + usd + eur)
    # USD has more variances, so it comes first; ¥90,000 is never compared with $700.
    assert list(ranked) == ["USD", "JPY"]
    assert [v["refund_id"] for v in ranked["USD"]] == ["u1", "u2", "u6", "u7", "u3"]
    assert [v["refund_id"] for v in ranked["JPY"]] == ["y"]


def test_report_url_when_a_base_is_set() -> None:
    text = message(given.summary(report_path="/srv/r/report.html",
                                 report_url="https://reports.example.com/recon/cp_20260301T000000Z/report.html"),
                   given.variances())
    assert text.splitlines()[-1] == "Report: https://reports.example.com/recon/cp_20260301T000000Z/report.html"


def hostile_inputs() -> tuple[dict, list[dict]]:
    """Every data field the message can quote carries a Slack mention and a link."""
    variances = [{**row, "refund_id": f"{HOSTILE} {n}", "order_id": HOSTILE, "detail": f"detail {HOSTILE}",
                  "discrepancy_system": f"erp{HOSTILE}", "variance_type": f"amount_mismatch{HOSTILE}"}
                 for n, row in enumerate(given.variances())]
    variances[0]["currency"] = f"USD{HOSTILE}"
    summary = given.summary(
        checkpoint_id=f"cp{HOSTILE}", as_of=f"2026{HOSTILE}", outcome_reasons=f"stale: erp {HOSTILE}",
        stale_sources=f"erp{HOSTILE}", rows_read={"storefront": 1, "processor": 2, "erp": 3},
        latest_record_at={"storefront": HOSTILE, "processor": HOSTILE, "erp": HOSTILE},
        rejected=[{"input_name": HOSTILE, "rejection_reason": HOSTILE, "row_count": 2}],
        booked_totals=[{"currency": HOSTILE, "minor_units": 2, "storefront_total": "1.00", "processor_total": "1.00",
                        "erp_total": "1.00", "net_variance": "0.00"}],
        variances_by_type={f"amount_mismatch{HOSTILE}": 8},
        report_url=f"https://r.example.com/{HOSTILE}/report.html", error=f"input missing {HOSTILE}")
    return summary, variances


def test_every_data_field_is_escaped_for_slack() -> None:
    summary, variances = hostile_inputs()
    for outcome in ("variances_found", "stale_sources", "failed", "clean"):
        text = message({**summary, "outcome": outcome}, variances)
        assert text.count(HOSTILE) >= (4 if outcome in ("failed", "clean") else 20), (outcome, text)
        payload = slack_payload(text, {**summary, "outcome": outcome})
        for key, value in payload.items():
            # No data can open a Slack control sequence (<!channel>, <@U1>, <http://...|label>).
            assert "<" not in value and ">" not in value, (outcome, key, value)
        assert payload["text"].count(ESCAPED) == text.count(HOSTILE)
        assert payload["checkpoint_id"] == f"cp{ESCAPED}"
