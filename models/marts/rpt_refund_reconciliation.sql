{#- The three-column view: what each system holds per refund date, order,
    status and currency. Each system's amounts are counted in their own
    currency, so a currency mismatch never adds two currencies together.
    The ERP total is what the ledger holds: every posting, duplicates
    included, reversals netted. -#}

with

refunds as (

    select * from {{ ref('int_refunds_matched') }}

),

refunds_dated as (

    select
        *,
        cast({{ to_business_time('coalesce(processor_created_at, storefront_created_at, erp_posted_at)') }} as date) as refund_date,
        case
            when has_processor_record then coalesce(processor_status, 'unmapped')
            when has_storefront_record then coalesce(storefront_status, 'unmapped')
            when erp_reversal_count > 0 then 'reversed'
            else coalesce(erp_gl_status, 'unmapped')
        end as canonical_status
    from refunds

),

system_amounts as (

    select
        refund_date,
        order_id,
        canonical_status,
        storefront_currency as currency,
        storefront_minor_units as minor_units,
        storefront_amount_minor,
        0 as processor_amount_minor,
        0 as erp_amount_minor,
        storefront_record_count as storefront_refund_count,
        0 as processor_refund_count,
        0 as erp_posting_count
    from refunds_dated
    where has_storefront_record

    union all

    select
        refund_date,
        order_id,
        canonical_status,
        processor_currency as currency,
        processor_minor_units as minor_units,
        0 as storefront_amount_minor,
        processor_amount_minor,
        0 as erp_amount_minor,
        0 as storefront_refund_count,
        1 as processor_refund_count,
        0 as erp_posting_count
    from refunds_dated
    where has_processor_record

    union all

    select
        refund_dated.refund_date,
        refund_dated.order_id,
        refund_dated.canonical_status,
        postings.currency,
        postings.minor_units,
        0 as storefront_amount_minor,
        0 as processor_amount_minor,
        case when postings.posting_role = 'reversal' then -postings.amount_minor else postings.amount_minor end
            as erp_amount_minor,
        0 as storefront_refund_count,
        0 as processor_refund_count,
        1 as erp_posting_count
    from refunds_dated as refund_dated
    inner join {{ ref('int_erp_postings_deduplicated') }} as postings
        on
            refund_dated.key_system = case when postings.is_linked then 'processor' else 'erp' end
            and refund_dated.refund_key = case when postings.is_linked then postings.processor_refund_id else postings.erp_document_id end

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
        {{ minor_to_major('storefront_amount_minor', 'minor_units') }} as storefront_refund_total,
        {{ minor_to_major('processor_amount_minor', 'minor_units') }} as processor_refund_total,
        {{ minor_to_major('erp_amount_minor', 'minor_units') }} as erp_refund_total,
        {{ minor_to_major('erp_amount_minor - storefront_amount_minor', 'minor_units') }} as net_variance,
        cast(storefront_refund_count as integer) as storefront_refund_count,
        cast(processor_refund_count as integer) as processor_refund_count,
        cast(erp_posting_count as integer) as erp_posting_count
    from grouped

)

select * from final
