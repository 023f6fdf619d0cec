"""The generic input format's columns and each system's vocabulary.

Column lists follow contracts.md; statuses and reasons are the ones the
default seeds map, per processor and storefront; GL accounts are the ones the
default ERP mapping reads.
"""

from __future__ import annotations

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
TRUTH_COLUMNS = ["refund_id", "variance_type", "discrepancy_system", "amount_delta", "currency"]
REJECTION_COLUMNS = ["input_name", "record_id", "rejected_column", "rejection_reason"]
SUGGESTION_COLUMNS = ["record_system", "record_id", "processor_refund_id", "id_fault"]

PROCESSOR_SHAPES = ["generic", "stripe", "adyen", "paypal"]
STOREFRONT_SHAPES = ["generic", "shopify"]
ERP_SHAPES = ["generic", "netsuite"]

# ERP faults whose fix is an entry in the refund's own period: in a locked
# period each also needs locked_period_posting (variance-rules.md).
ENTRY_FAULTS = {"missing_in_erp", "partial_refund_collapsed", "amount_mismatch", "currency_mismatch",
                "status_mismatch", "duplicate_erp_posting", "wrong_period", "reason_mismatch"}

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
# UTC offsets a timestamp is written in (None: no offset, read as UTC).
OFFSETS = [None, "Z", "+00:00", "+05:30", "-08:00", "-05:00", "+09:00", "+01:00"]
