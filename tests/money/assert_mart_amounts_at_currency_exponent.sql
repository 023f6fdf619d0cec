{#- Every money column of the verdict's marts (the ones a checkpoint builds
    before it records its outcome) holds an exact decimal in major units with
    no more digits than its currency's exponent (JPY whole, EUR cents, KWD
    fils). A row here is an amount that is not, or one whose exponent is
    unknown while it has an amount. The marts built after the verdict:
    assert_late_mart_amounts_at_currency_exponent. -#}

{{ amounts_off_currency_exponent([
    ('fct_refund_variances', 'variance_id', 'amount_delta', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'storefront_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'processor_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'erp_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'net_variance', 'minor_units'),
    ('fct_checkpoint_totals', 'checkpoint_id', 'amount', 'minor_units'),
    ('fct_variance_history', 'variance_id', 'amount_delta', 'minor_units'),
    ('fct_variance_history', 'variance_id', 'amount_at_stake', 'minor_units'),
    ('fct_rejected_rows', 'rejected_row_id', 'amount', 'currencies.minor_units'),
]) }}
