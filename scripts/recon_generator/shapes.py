"""Write a labelled scenario's rows in the shapes real systems land them.

The generator builds every case in the generic format (contracts.md); the
writers here turn those rows into the raw tables of Stripe, Adyen, PayPal,
Shopify and NetSuite (source-shapes.md), as the project's shape staging
models read them. Each conversion keeps what the reconciliation needs, so the
same labels hold: ids, amounts (minor units where the system uses them),
currencies, statuses in the system's own vocabulary, reasons and times.

What a shape cannot carry, the scenario does not produce for it (scenario.py):
Stripe keeps one current-state row per refund dated at creation, Adyen sends
no notification for a refund it has only received (no pending refunds),
PayPal refunds carry no reason.

Noise that the staging models must ignore is added on purpose: Adyen payment
events, Shopify sale and test transactions, NetSuite invoices and quarter
periods.
"""

from __future__ import annotations

import csv
import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from pathlib import Path
from zoneinfo import ZoneInfo

from .clock import LOCK_AFTER_DAYS, closed_on, is_locked, month_start, next_month, parse_instant

EXPONENTS = {"USD": 2, "EUR": 2, "GBP": 2, "JPY": 0, "KWD": 3, "KRW": 0, "BHD": 3}

# Generic processor column positions (PROCESSOR_COLUMNS).
P_ID, P_PROCESSOR, P_PAYMENT, P_ORDER, P_AMOUNT, P_CURRENCY, P_STATUS, P_REASON, P_CREATED, P_EVENT = range(10)
# Generic storefront column positions (STOREFRONT_COLUMNS).
S_ID, S_ORDER, S_PRID, S_AMOUNT, S_CURRENCY, S_TYPE, S_REASON, S_STATUS, S_CREATED, S_UPDATED = range(10)
# Generic ERP column positions (ERP_COLUMNS).
E_ID, E_PRID, E_ORDER, E_GL, E_AMOUNT, E_CURRENCY, E_REASON, E_TYPE, E_POSTED, E_RECEIVED, E_PERIOD = range(11)

ADYEN_EVENTS = {
    "refunded": ("REFUND", "true", ""),
    "refund_failed": ("REFUND", "false", "Refused"),
    "refunded_reversed": ("REFUNDED_REVERSED", "true", ""),
}
ADYEN_PENDING = "sent_for_refund"
NETSUITE_ACCOUNTS = [
    ("1", "1000", "Bank : Operating", "Bank"),
    ("2", "1200", "Accounts Receivable", "AcctRec"),
    ("3", "2150", "Refunds pending", "OthCurrLiab"),
    ("4", "4000", "Sales", "Income"),
    ("5", "4900", "Refunds (full)", "Income"),
    ("6", "4910", "Refunds (partial)", "Income"),
    ("7", "4950", "Refund reversals", "Income"),
    ("8", "4999", "Refunds (uncategorised)", "Income"),
]


def to_minor(amount: str, currency: str) -> str:
    """Major-unit text as integer minor units; text that is not a valid amount stays as it is."""
    exponent = EXPONENTS.get(currency.strip().upper())
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return amount
    if exponent is None or value < 0 or value != value.quantize(Decimal(1).scaleb(-exponent)):
        return amount
    return str(int(value.scaleb(exponent)))


class ShapeWriters:
    """Files in the data folder for the shapes chosen, fed one batch at a time."""

    def __init__(self, out: Path, processor_shapes: list[str], storefront_shape: str, erp_shape: str,
                 as_of: datetime, tz: ZoneInfo, seed: int) -> None:
        self.out = out
        self.processor_shapes = processor_shapes
        self.storefront_shape = storefront_shape
        self.erp_shape = erp_shape
        self.as_of = as_of
        self.tz = tz
        self.rng = random.Random(seed + 1)  # the scenario's own draws stay untouched
        self.handles: dict[str, object] = {}
        self.writers: dict[str, csv.writer] = {}
        self.rows: dict[str, int] = defaultdict(int)
        self.period_ids: dict[str, str] = {}
        self.currency_ids: dict[str, str] = {}
        self.counter = 0

    # -- plumbing -----------------------------------------------------------
    def writer(self, name: str, columns: list[str]) -> csv.writer:
        if name not in self.writers:
            path = self.out / f"{name}.csv"
            path.parent.mkdir(parents=True, exist_ok=True)
            handle = open(path, "w", newline="", encoding="utf-8")
            self.handles[name] = handle
            self.writers[name] = csv.writer(handle)
            self.writers[name].writerow(columns)
        return self.writers[name]

    def write(self, name: str, columns: list[str], row: list[str]) -> None:
        self.writer(name, columns).writerow(row)
        self.rows[name] += 1

    def next_id(self) -> int:
        self.counter += 1
        return self.counter

    def processor_shape(self, processor: str) -> str:
        """The shape a processor's rows are written in: its own, else generic."""
        name = processor.strip().lower()
        if name in self.processor_shapes:
            return name
        return "generic" if "generic" in self.processor_shapes else self.processor_shapes[0]

    def period_of(self, text: str) -> str:
        instant = parse_instant(text).replace(tzinfo=timezone.utc).astimezone(self.tz)
        return instant.strftime("%Y-%m")

    # -- one batch of generic rows ------------------------------------------
    def write_batch(self, storefront: list[list[str]], processor: list[list[str]], erp: list[list[str]],
                    generic: dict[str, list[list[str]]]) -> None:
        """Rows whose role stays generic go to `generic`; the rest are written here."""
        by_shape: dict[str, list[list[str]]] = defaultdict(list)
        for row in processor:
            by_shape[self.processor_shape(row[P_PROCESSOR])].append(row)
        generic["processor"] = by_shape.pop("generic", [])
        for shape, rows in by_shape.items():
            getattr(self, f"write_{shape}")(rows)
        if self.storefront_shape == "generic":
            generic["storefront"] = storefront
        else:
            getattr(self, f"write_{self.storefront_shape}")(storefront)
        if self.erp_shape == "generic":
            generic["erp"] = erp
        else:
            getattr(self, f"write_{self.erp_shape}")(erp)

    # -- processors ---------------------------------------------------------
    def write_stripe(self, rows: list[list[str]]) -> None:
        columns = ["id", "object", "amount", "currency", "status", "reason", "failure_reason", "charge_id",
                   "payment_intent_id", "balance_transaction_id", "created", "metadata", "description",
                   "receipt_number", "_fivetran_synced"]
        for row in rows:
            status = row[P_STATUS]
            metadata = json.dumps({"order_id": row[P_ORDER], "source": "web"}) if row[P_ORDER] else "{}"
            self.write("stripe/refund", columns, [
                row[P_ID], "refund", to_minor(row[P_AMOUNT], row[P_CURRENCY]), row[P_CURRENCY].lower(), status,
                row[P_REASON], "unknown" if status.strip().lower() == "failed" else "", row[P_PAYMENT],
                "pi_" + row[P_PAYMENT][3:] if row[P_PAYMENT] else "", "", row[P_CREATED], metadata, "",
                "", self.as_of.strftime("%Y-%m-%d %H:%M:%S"),
            ])

    def write_adyen(self, rows: list[list[str]]) -> None:
        columns = ["pspReference", "originalReference", "merchantReference", "merchantAccountCode", "eventCode",
                   "success", "amount_value", "amount_currency", "eventDate", "reason"]
        for row in rows:
            status = row[P_STATUS].strip().lower()
            if status == ADYEN_PENDING:
                continue  # Adyen notifies a refund once it is processed, not when received
            event, success, reason = ADYEN_EVENTS.get(status, (row[P_STATUS].strip().upper(), "true", ""))
            amount = to_minor(row[P_AMOUNT], row[P_CURRENCY])
            if self.rng.random() < 0.3:
                # The payment's own notification: not a refund, must be ignored.
                self.write("adyen/notification", columns, [
                    row[P_PAYMENT], "", row[P_ORDER], "ShopCOM", "AUTHORISATION", "true", amount,
                    row[P_CURRENCY], row[P_CREATED], ""])
            self.write("adyen/notification", columns, [
                row[P_ID], row[P_PAYMENT], row[P_ORDER], "ShopCOM", event, success, amount, row[P_CURRENCY],
                row[P_EVENT], reason])

    def write_paypal(self, rows: list[list[str]]) -> None:
        columns = ["id", "status", "status_details_reason", "amount_value", "amount_currency_code", "invoice_id",
                   "custom_id", "capture_id", "create_time", "update_time"]
        latest: dict[str, list[str]] = {}
        for row in rows:
            current = latest.get(row[P_ID])
            if current is None or parse_instant(row[P_EVENT]) >= parse_instant(current[P_EVENT]):
                latest[row[P_ID]] = row
        for row in latest.values():
            pending = row[P_STATUS].strip().upper() == "PENDING"
            self.write("paypal/refund", columns, [
                row[P_ID], row[P_STATUS], "ECHECK" if pending else "", row[P_AMOUNT], row[P_CURRENCY],
                row[P_ORDER], "", row[P_PAYMENT], row[P_CREATED], row[P_EVENT]])

    # -- storefront ---------------------------------------------------------
    def write_shopify(self, rows: list[list[str]]) -> None:
        tx_columns = ["id", "order_id", "refund_id", "kind", "status", "amount", "currency", "gateway", "parent_id",
                      "authorization", "receipt", "created_at", "processed_at", "test"]
        refund_columns = ["id", "order_id", "created_at", "processed_at", "note", "restock"]
        adjustment_columns = ["id", "order_id", "refund_id", "amount", "tax_amount", "kind", "reason"]
        # The sale each order's refunds go back to: the full amount for a full
        # refund, more than the partial refunds together for partial ones.
        refunds_by_order: dict[str, dict[str, tuple[str, Decimal]]] = defaultdict(dict)
        order_currency: dict[str, str] = {}
        for row in rows:
            try:
                amount = Decimal(row[S_AMOUNT])
            except InvalidOperation:
                continue
            if row[S_ID] and row[S_ORDER] and amount > 0:
                refunds_by_order[row[S_ORDER]][row[S_ID]] = (row[S_TYPE], amount)
                order_currency.setdefault(row[S_ORDER], row[S_CURRENCY])
        sales: dict[str, str] = {}
        for order_id, refunds in refunds_by_order.items():
            scopes = {scope for scope, _ in refunds.values()}
            total = sum(amount for _, amount in refunds.values())
            sale_amount = total + 1 if "partial" in scopes else max(amount for _, amount in refunds.values())
            sale_id = f"tx_sale_{self.next_id():010d}"
            sales[order_id] = sale_id
            self.write("shopify/transaction", tx_columns, [
                sale_id, order_id, "", "sale", "success", str(sale_amount), order_currency[order_id].upper(), "shopify_payments",
                "", "", "", "", "", "false"])
        for row in rows:
            refund_id = f"rf_{row[S_ID]}" if row[S_ID] else f"rf_blank{self.next_id()}"
            prid = row[S_PRID]
            in_receipt = prid and self.rng.random() < 0.3
            receipt = json.dumps({"refund_id": prid, "gateway": "stripe"}) if in_receipt else "{}"
            self.write("shopify/transaction", tx_columns, [
                row[S_ID], row[S_ORDER], refund_id, "refund", row[S_STATUS], row[S_AMOUNT], row[S_CURRENCY],
                "shopify_payments", sales.get(row[S_ORDER], ""), "" if in_receipt else prid, receipt,
                row[S_CREATED], row[S_UPDATED], "false"])
            # The reason as a code in the refund's note (Shopify keeps no
            # reason code on a refund; a merchant who writes codes writes them
            # there). An adjustment describes a discrepancy, never a reason:
            # written as noise the reader must not take for one.
            self.write("shopify/refund", refund_columns, [
                refund_id, row[S_ORDER], row[S_CREATED], row[S_UPDATED], row[S_REASON], "true"])
            if row[S_REASON]:
                self.write("shopify/order_adjustment", adjustment_columns, [
                    f"adj_{self.next_id():010d}", row[S_ORDER], refund_id, "0.00", "0.00", "refund_discrepancy",
                    "Refund discrepancy"])
            if self.rng.random() < 0.03:
                # A test-mode refund: not real money, must be ignored.
                self.write("shopify/transaction", tx_columns, [
                    f"tx_test_{self.next_id():010d}", row[S_ORDER], refund_id, "refund", "success", row[S_AMOUNT],
                    row[S_CURRENCY], "bogus", "", "", "{}", row[S_CREATED], row[S_UPDATED], "true"])

    # -- ERP ----------------------------------------------------------------
    def write_netsuite(self, rows: list[list[str]]) -> None:
        tx_columns = ["id", "tranid", "type", "status", "trandate", "createddate", "postingperiod", "currency",
                      "entity", "memo", "posting", "externalid", "otherrefnum", "custbody_refund_reason_code",
                      "custbody_order_id"]
        line_columns = ["transaction", "transactionline", "account", "amount", "debit", "credit", "netamount",
                        "posting", "exchangerate"]
        account_ids = {number: account_id for account_id, number, _, _ in NETSUITE_ACCOUNTS}
        for row in rows:
            period = row[E_PERIOD] or self.period_of(row[E_RECEIVED])
            period_id = self.period_ids.setdefault(period, str(100 + len(self.period_ids)))
            currency_id = self.currency_ids.setdefault(row[E_CURRENCY], str(1 + len(self.currency_ids)))
            created = row[E_RECEIVED]
            self.write("netsuite/transaction", tx_columns, [
                row[E_ID], f"CRF{self.next_id():08d}", self.rng.choice(["CustRfnd", "CustRfnd", "CashRfnd"]),
                "Deposited", created[:10], created, period_id, currency_id, "1042", row[E_PRID], "T", row[E_PRID], "",
                row[E_REASON], row[E_ORDER]])
            account = account_ids.get(row[E_GL], account_ids["4999"])
            amount = row[E_AMOUNT]
            negative = "-" + amount if amount and not amount.startswith("-") else amount
            self.write("netsuite/transactionaccountingline", line_columns,
                       [row[E_ID], "0", account, amount, amount, "", amount, "T", "1.0"])
            self.write("netsuite/transactionaccountingline", line_columns,
                       [row[E_ID], "1", account_ids["1000"], negative, "", amount, negative, "T", "1.0"])
            if self.rng.random() < 0.05:
                # An invoice: not a refund, must be ignored.
                invoice_id = f"INV-{self.next_id():010d}"
                self.write("netsuite/transaction", tx_columns, [
                    invoice_id, invoice_id, "CustInvc", "Paid In Full", created[:10], created, period_id,
                    currency_id, "1042", "", "T", "", "", "", row[E_ORDER]])
                self.write("netsuite/transactionaccountingline", line_columns,
                           [invoice_id, "0", account_ids["1200"], "25.00", "25.00", "", "25.00", "T", "1.0"])
                self.write("netsuite/transactionaccountingline", line_columns,
                           [invoice_id, "1", account_ids["4000"], "-25.00", "", "25.00", "-25.00", "T", "1.0"])

    # -- the end --------------------------------------------------------------
    def close(self) -> dict[str, int]:
        if self.erp_shape == "netsuite":
            self.write_netsuite_reference_tables()
        for handle in self.handles.values():
            handle.close()
        return dict(sorted(self.rows.items()))

    def write_netsuite_reference_tables(self) -> None:
        for account in NETSUITE_ACCOUNTS:
            self.write("netsuite/account", ["id", "acctnumber", "fullname", "accttype"], list(account))
        for code, currency_id in self.currency_ids.items():
            self.write("netsuite/currency", ["id", "symbol", "name"], [currency_id, code, code])
        columns = ["id", "periodname", "startdate", "enddate", "closed", "closedondate", "alllocked", "arlocked",
                   "isposting", "isadjust", "isquarter", "isyear"]
        # Every month the postings name, plus the months around as_of.
        months = set(self.period_ids) | {self.as_of.strftime("%Y-%m")}
        for period in sorted(months):
            start = month_start(period)
            end = next_month(start) - timedelta(days=1)
            closed = closed_on(period)
            # Closed once the close date has come; a period closed after
            # as_of is written closed with its later date (a re-run of an
            # old checkpoint): it was open at as_of.
            is_closed = closed <= self.as_of.date() + timedelta(days=LOCK_AFTER_DAYS)
            period_id = self.period_ids.setdefault(period, str(100 + len(self.period_ids)))
            self.write("netsuite/accountingperiod", columns, [
                period_id, start.strftime("%b %Y"), start.isoformat(), end.isoformat(),
                "T" if is_closed else "F", closed.isoformat() if is_closed else "",
                "F", "T" if is_locked(period, self.as_of) and start.month % 2 == 0 else "F",
                "T", "F", "F", "F"])
        # A locked quarter that starts with the as_of month: it must not be
        # read as a month, or the open month would look locked.
        current = self.as_of.strftime("%Y-%m")
        self.write("netsuite/accountingperiod", columns, [
            "9000", "Q" + str((month_start(current).month - 1) // 3 + 1) + " " + current[:4], current + "-01",
            current + "-28", "T", "", "T", "T", "F", "F", "T", "F"])
