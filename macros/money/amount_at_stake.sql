{#- What a variance puts at stake, per variance type (docs/models.md, "Variance types and amount
    at stake"): 'refund' = the refund's own amount (the whole posting or
    record is missing, wrong or unverifiable: it is the amount a correction
    moves), 'delta' = |amount_delta| (only the amount differs; for
    duplicate_erp_posting amount_delta is the duplicates' total). A type
    without a row here has no amount at stake (null; the mart's not_null
    test fails, so a new type cannot be left out). -#}
{% macro amount_at_stake_basis() -%}
    {{ return({
        'missing_in_erp': 'refund',
        'missing_in_storefront': 'refund',
        'missing_at_processor': 'refund',
        'orphan_erp_posting': 'refund',
        'amount_mismatch': 'delta',
        'currency_mismatch': 'refund',
        'status_mismatch': 'refund',
        'partial_refund_collapsed': 'refund',
        'duplicate_erp_posting': 'delta',
        'confirmation_lag': 'refund',
        'wrong_period': 'refund',
        'unmapped_status': 'refund',
        'unmapped_reason': 'refund',
        'reason_mismatch': 'refund',
        'locked_period_posting': 'refund',
    }) }}
{%- endmacro %}


{#- The amount at stake in integer minor units of the variance's `currency`.
    `refund_amount_minor` is the refund's amount in that currency (the
    processor's, else the storefront's, else the ERP posting's: the system
    `currency` comes from). Always >= 0. -#}
{% macro amount_at_stake_minor(variance_type, amount_delta_minor, refund_amount_minor) -%}
    case {{ variance_type }}
        {%- for type, basis in amount_at_stake_basis().items() %}
        when '{{ type }}' then abs({{ amount_delta_minor if basis == 'delta' else refund_amount_minor }})
        {%- endfor %}
    end
{%- endmacro %}
