"""The labelled sample generator: a refund-reconciliation scenario with its answers.

The three inputs (storefront_refunds, processor_refunds, erp_refund_postings)
are written to --out together with the ground truth:

* ``ground_truth.csv``: one row per variance the project must report
  (refund_id, variance_type, discrepancy_system, amount_delta, currency);
  every other refund is clean and must not be flagged.
* ``expected_rejections.csv``: one row per input row that must be rejected
  (input_name, record_id, rejected_column, rejection_reason).
* ``scenario.json``: the settings the labels assume (as_of, SLA, timezone),
  the dbt vars a run needs, and counts per fault kind.
* ``suggestion_truth.csv`` (only with ``--id-fault-rate``, off by default):
  the true counterpart of each record whose processor refund id was dropped
  or mistyped (record_system, record_id, processor_refund_id, id_fault), the
  answer fct_suggested_matches should give. Every other unlinked record has
  no true counterpart.

With ``--processor-shapes``, ``--storefront-shape`` and ``--erp-shape`` the same
kind of scenario is written in the raw shapes of Stripe, Adyen, PayPal,
Shopify and NetSuite instead, with the same labels: what a shape cannot carry
is not generated for it, and where the ERP shape has a period calendar
(NetSuite) the labels include locked_period_posting.

Each refund case carries at most one fault, chosen deterministically from the
seed, so the labels follow from the fault alone and never from re-running the
project's own rules. Amounts come in JPY and KWD as well as two-decimal
currencies, timestamps with offsets, and status strings in mixed case with
stray spaces. It streams: 10 million refunds need no more memory than a
thousand.

One concern per module:

* ``cli``: the options (``python scripts/generate_sample_data.py`` is a shim).
* ``scenario``: the seeded draw of cases and the rows each refund gives.
* ``faults``, ``traps``, ``id_faults``, ``rejections``: the cases, with the
  labels each must produce.
* ``writers``: the generic-format files, the labels and scenario.json.
* ``shapes``: the vendors' raw tables.
* ``vocabulary``, ``clock``: columns and vocabularies; instants and periods.
"""
