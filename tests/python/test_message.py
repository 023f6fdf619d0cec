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
    # The mart's amount_at_stake: the currency mismatch puts its EUR 40.00 at
    # stake; re_jpy counts once, at its wrong period's whole 40,000.
    assert ("At stake: EUR 40.00 on 1 refund; JPY 40,000 on 1 refund; "
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
        "  - missing_in_erp re_usd_big USD 398.00 at stake (erp at fault): missing_in_erp on re_usd_big.",
        "  - confirmation_lag re_usd_mid USD 40.00 at stake (processor at fault): confirmation_lag on re_usd_mid.",
        "  - missing_in_storefront <script>alert(1)</script> USD 25.00 at stake (storefront at fault): "
        "<b>bold</b> & more",
        "  - amount_mismatch re_usd_small USD 12.50 at stake (erp at fault): amount_mismatch on re_usd_small.",
        "Largest in JPY:",
        "  - wrong_period re_jpy JPY 40,000 at stake (erp at fault): wrong_period on re_jpy.",
        "  - amount_mismatch re_jpy JPY 37,224 at stake (erp at fault): amount_mismatch on re_jpy.",
        "Largest in EUR:",
        "  - currency_mismatch re_eur EUR 40.00 at stake (erp at fault): currency_mismatch on re_eur.",
        "Largest in KWD:",
        "  - duplicate_erp_posting re_kwd KWD 66.967 at stake (erp at fault): duplicate_erp_posting on re_kwd.",
    ]


def test_largest_is_the_top_five_by_amount_at_stake_within_each_currency() -> None:
    usd = [{"refund_id": f"u{n}", "currency": "USD", "amount_at_stake": Decimal(value)}
           for n, value in enumerate(["1.00", "700.00", "650.00", "3.00", "0", "2.00", "5.00", "4.00"])]
    jpy = [{"refund_id": "y", "currency": "JPY", "amount_at_stake": Decimal("90000")}]
    eur = [{"refund_id": "e", "currency": "EUR", "amount_at_stake": None}]
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


def test_tolerate_amount_is_for_amount_variances_only() -> None:
    """Issue 24 obs. 5: --tolerate-amount never turns a variance that is not an
    amount question into exit 0, whatever its delta (0 for a status, period or
    reason variance; the whole refund for a missing posting; the copies for a
    duplicate). An amount_mismatch, and a partial_refund_collapsed whose ERP
    posting is there with another amount, are tolerated within it."""
    from recon_runner.message import within_tolerance

    def row(kind: str, delta: str | None, erp_amount: str | None = "10.00") -> dict:
        return given.variance("v", "re_x", kind, "erp", "USD", 2, delta, 1, "0-7 days", 1,
                              erp_amount=None if erp_amount is None else Decimal(erp_amount))

    clean = {"rows_rejected": 0}
    huge = Decimal("1000")
    assert within_tolerance(clean, [row("amount_mismatch", "-5.00")], huge)
    assert within_tolerance(clean, [row("partial_refund_collapsed", "-5.00")], huge)
    assert not within_tolerance(clean, [row("amount_mismatch", "-5.00")], Decimal("4.99"))
    for kind, delta, erp_amount in [("missing_in_erp", "-0.01", None), ("missing_in_storefront", "-0.01", None),
                                    ("missing_at_processor", "0", None), ("orphan_erp_posting", "0.01", "0.01"),
                                    ("duplicate_erp_posting", "0.01", "0.01"), ("status_mismatch", "0", "10.00"),
                                    ("wrong_period", "0", "10.00"), ("confirmation_lag", "0", "10.00"),
                                    ("reason_mismatch", "0", "10.00"), ("unmapped_status", "0", "10.00"),
                                    ("unmapped_reason", "0", "10.00"), ("locked_period_posting", "0", "10.00"),
                                    ("currency_mismatch", None, "10.00"),
                                    # collapsed with its posting missing: not an amount question
                                    ("partial_refund_collapsed", "-0.01", None)]:
        rows = [row("amount_mismatch", "-1.00"), row(kind, delta, erp_amount)]
        assert not within_tolerance(clean, rows, huge), kind


CONTROL = "re_1\n\x1b[31mFORGED: CLEAN\x1b[0m\r\u202eevil\u2028x\x07"


def control_inputs() -> tuple[dict, list[dict]]:
    """Every data field the message and the report can quote carries a newline, an ANSI escape, a
    carriage return, a bidi override, a line separator and a bell."""
    variances = [{**row, "refund_id": f"{CONTROL} {n}", "refund_key": f"{CONTROL} {n}", "order_id": CONTROL,
                  "detail": f"detail {CONTROL}", "variance_type": f"amount_mismatch{CONTROL}"}
                 for n, row in enumerate(given.variances())]
    summary = given.summary(
        outcome_reasons=f"stale: erp {CONTROL}", stale_sources=f"erp{CONTROL}",
        rejected=[{"input_name": CONTROL, "rejection_reason": CONTROL, "row_count": 2}],
        variances_by_type={f"amount_mismatch{CONTROL}": 8}, error=f"input missing {CONTROL}",
        checkpoint_id=f"cp{CONTROL}")
    return summary, variances


def raw_controls(text: str) -> set[str]:
    return {c for c in text if c in "\r\x1b\x07\u202e\u2028"}


def test_control_characters_in_data_are_escaped_in_every_channel(tmp_path) -> None:
    """Issue 24 obs. 13: a refund id or reason with a newline or an ANSI escape
    cannot forge a line or colour the terminal, the webhook text or the report:
    every control character in data is written out (\\n, \\x1b)."""
    from recon_runner.marts import VARIANCE_COLUMNS
    from recon_runner.reports import write_report_folder

    summary, variances = control_inputs()
    plain_summary, plain_variances = given.summary(), given.variances()
    for outcome in ("variances_found", "stale_sources", "failed", "clean"):
        text = message({**summary, "outcome": outcome}, variances)
        # The message's own line breaks only: as many lines as the same message without the hostile data.
        assert len(text.splitlines()) == len(message({**plain_summary, "outcome": outcome},
                                                     plain_variances).splitlines()), (outcome, text)
        assert not raw_controls(text), outcome
        assert "\\n\\x1b[31mFORGED: CLEAN\\x1b[0m\\r\\u202eevil\\u2028x\\x07" in text
        payload = slack_payload(text, {**summary, "outcome": outcome})
        assert not any(raw_controls(value) for value in payload.values()), payload
        assert payload["text"].count("\n") == text.count("\n") and "\n" not in payload["checkpoint_id"]
    folder = write_report_folder(tmp_path, "cp_x", {**summary, "message": text}, variances, VARIANCE_COLUMNS,
                                 given.details())
    for page in ("report.html", "audit.html"):
        html = (folder / page).read_text(encoding="utf-8")
        assert not raw_controls(html), page
        assert "\\x1b[31mFORGED: CLEAN" in html and "FORGED: CLEAN\n" not in html, page
