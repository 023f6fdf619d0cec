{#- The same rule as assert_mart_amounts_at_currency_exponent for the marts
    a checkpoint builds after its verdict: the audit trail and the ERP
    postings the refunds should have. -#}

{{ amounts_off_currency_exponent([
    ('fct_refund_audit_trail', 'audit_record_id', 'amount', 'minor_units'),
    ('fct_expected_erp_postings', 'processor_refund_id', 'amount', 'currencies.minor_units'),
]) }}
