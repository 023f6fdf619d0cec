{#- What each system holds for each refund, one row per contribution: the
    storefront's and the processor's record, and each ERP posting (reversals
    negative), with the refund's date (business timezone), order, canonical
    status and the contribution's own currency. rpt_refund_reconciliation sums
    it. Its grain (its key in column_values): the refund (key_system, refund_key),
    the contributing system and, for the ERP, the posting (erp_document_id,
    unique per document in int_erp_postings_deduplicated; null on the
    storefront's and the processor's one row per refund). A model of its own so that the join and the aggregation run apart:
    together they did not fit a 3 GB DuckDB memory limit at 10M refunds
    (BENCHMARKS.md), apart each spills. -#}

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
        key_system,
        refund_key,
        cast('storefront' as {{ dbt.type_string() }}) as contributing_system,
        cast(null as {{ dbt.type_string() }}) as erp_document_id,
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
        key_system,
        refund_key,
        cast('processor' as {{ dbt.type_string() }}) as contributing_system,
        cast(null as {{ dbt.type_string() }}) as erp_document_id,
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
        refund_dated.key_system,
        refund_dated.refund_key,
        cast('erp' as {{ dbt.type_string() }}) as contributing_system,
        cast(postings.erp_document_id as {{ dbt.type_string() }}) as erp_document_id,
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
    -- A document and the posting that reverses it net out (zero together).
    where postings.posting_role not in ('reversing', 'reversed')

)

select * from system_amounts
