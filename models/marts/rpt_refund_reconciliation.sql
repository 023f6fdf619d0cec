{#- The three-column view: what each system holds per refund date, order,
    status and currency. Each system's amounts are counted in their own
    currency, so a currency mismatch never adds two currencies together.
    The ERP total is what the ledger holds: every posting, duplicates
    included, reversals netted. -#}

with

system_amounts as (

    select * from {{ ref('int_refund_amounts_by_system') }}

),

grouped as (

    select
        refund_date,
        order_id,
        canonical_status,
        currency,
        max(minor_units) as minor_units,
        sum(storefront_amount_minor) as storefront_amount_minor,
        sum(processor_amount_minor) as processor_amount_minor,
        sum(erp_amount_minor) as erp_amount_minor,
        sum(storefront_refund_count) as storefront_refund_count,
        sum(processor_refund_count) as processor_refund_count,
        sum(erp_posting_count) as erp_posting_count
    from system_amounts
    group by refund_date, order_id, canonical_status, currency

),

final as (

    select
        refund_date,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(canonical_status as {{ dbt.type_string() }}) as canonical_status,
        cast(currency as {{ dbt.type_string() }}) as currency,
        cast(minor_units as integer) as minor_units,
        {{ minor_to_major('storefront_amount_minor', 'minor_units') }} as storefront_refund_total,
        {{ minor_to_major('processor_amount_minor', 'minor_units') }} as processor_refund_total,
        {{ minor_to_major('erp_amount_minor', 'minor_units') }} as erp_refund_total,
        {{ minor_to_major('erp_amount_minor - storefront_amount_minor', 'minor_units') }} as net_variance,
        cast(storefront_refund_count as integer) as storefront_refund_count,
        cast(processor_refund_count as integer) as processor_refund_count,
        cast(erp_posting_count as integer) as erp_posting_count,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from grouped

)

select * from final
