{#- Every money column of the marts holds an exact decimal in major units
    with no more digits than its currency's exponent (JPY whole, EUR cents,
    KWD fils): scaled to minor units it is a whole number. A row here is an
    amount that is not, or one whose exponent is unknown while it has an
    amount. -#}

{%- set checks = [
    ('fct_refund_variances', 'variance_id', 'amount_delta', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'storefront_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'processor_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'erp_refund_total', 'minor_units'),
    ('rpt_refund_reconciliation', 'refund_date', 'net_variance', 'minor_units'),
    ('fct_refund_audit_trail', 'audit_record_id', 'amount', 'minor_units'),
    ('fct_checkpoint_totals', 'checkpoint_id', 'amount', 'minor_units'),
    ('fct_variance_history', 'variance_id', 'amount_delta', 'minor_units'),
    ('fct_variance_history', 'variance_id', 'amount_at_stake', 'minor_units'),
    ('fct_expected_erp_postings', 'processor_refund_id', 'amount', 'currencies.minor_units'),
    ('fct_rejected_rows', 'rejected_row_id', 'amount', 'currencies.minor_units'),
] -%}

with

currencies as (

    select * from {{ ref('currencies') }}

),

amounts as (
    {% for model, row_id, amount, minor_units in checks %}
    select
        '{{ model }}.{{ amount }}' as money_column,
        cast(marts.{{ row_id }} as {{ dbt.type_string() }}) as row_id,
        marts.{{ amount }} as money_amount,
        {{ minor_units if '.' in minor_units else 'coalesce(marts.' ~ minor_units ~ ', currencies.minor_units)' }}
            as currency_minor_units
    from {{ ref(model) }} as marts
    left join currencies
        on marts.currency = currencies.currency
    where marts.{{ amount }} is not null
    {% if not loop.last %}union all{% endif %}
    {%- endfor %}

),

scaled as (

    select
        *,
        money_amount * case currency_minor_units
            {%- for exponent in range(5) %}
            when {{ exponent }} then {{ 10 ** exponent }}
            {%- endfor %}
        end as amount_in_minor_units
    from amounts

)

select * from scaled
where amount_in_minor_units is null or amount_in_minor_units <> floor(amount_in_minor_units)
