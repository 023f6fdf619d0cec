{#- The three-way match: one row per refund, keyed by the processor refund id.
    A storefront refund or ERP posting that carries no processor refund id,
    or one the processor does not know, is unlinked and becomes a refund of
    its own (keyed by its own id), never guessed into a match. Only joins
    here; the variance rules live in int_refund_variances_detected. -#}

with

processor_refunds as (

    select * from {{ ref('int_processor_refunds_collapsed') }}

),

storefront_refunds as (

    select * from {{ ref('int_storefront_refunds_deduplicated') }}

),

erp_postings as (

    select * from {{ ref('int_erp_postings_deduplicated') }}

),

storefront_keyed as (

    select
        storefront_refunds.*,
        case when processor_refunds.processor_refund_id is not null then 'processor' else 'storefront' end as key_system,
        coalesce(processor_refunds.processor_refund_id, storefront_refunds.storefront_refund_id) as refund_key
    from storefront_refunds
    left join processor_refunds
        on storefront_refunds.processor_refund_id = processor_refunds.processor_refund_id

),

storefront_by_refund as (

    -- Several storefront refunds may carry one processor refund id: their
    -- amounts add up; the earliest one speaks for the rest.
    select
        *,
        row_number() over (
            partition by key_system, refund_key
            order by created_at, storefront_refund_id
        ) as storefront_rank,
        count(*) over (partition by key_system, refund_key) as storefront_record_count,
        sum(amount_minor) over (partition by key_system, refund_key) as storefront_amount_minor
    from storefront_keyed

),

erp_keyed as (

    select
        erp_postings.*,
        case when erp_postings.is_linked then 'processor' else 'erp' end as key_system,
        case when erp_postings.is_linked then erp_postings.processor_refund_id else erp_postings.erp_document_id end as refund_key
    from erp_postings

),

erp_by_refund as (

    select
        key_system,
        refund_key,
        count(*) as erp_posting_count,
        sum(case when posting_role = 'duplicate' then 1 else 0 end) as erp_duplicate_count,
        sum(case when posting_role = 'duplicate' then amount_minor else 0 end) as erp_duplicate_amount_minor,
        sum(case when posting_role = 'reversal' then 1 else 0 end) as erp_reversal_count,
        sum(case when posting_role = 'reversal' then -amount_minor else amount_minor end) as erp_net_amount_minor
    from erp_keyed
    -- A document and the posting that reverses it net out: neither counts.
    where posting_role not in ('reversing', 'reversed')
    group by key_system, refund_key

),

erp_primary as (

    -- The posting that speaks for the refund: the earliest booking, or the
    -- orphan itself. Duplicates and reversals are counted above.
    select * from erp_keyed
    where posting_role in ('primary', 'orphan')

),

refund_keys as (

    select
        'processor' as key_system,
        processor_refund_id as refund_key
    from processor_refunds
    union all
    select
        key_system,
        refund_key
    from storefront_by_refund
    where key_system = 'storefront' and storefront_rank = 1
    union all
    select
        key_system,
        refund_key
    from erp_by_refund
    where key_system = 'erp'

),

final as (

    select
        refund_keys.key_system,
        refund_keys.refund_key,
        processor_refunds.processor,

        processor_refunds.raw_status as processor_raw_status,
        processor_refunds.canonical_status as processor_status,
        processor_refunds.is_status_mapped as is_processor_status_mapped,
        processor_refunds.raw_reason as processor_raw_reason,
        processor_refunds.gl_reason_code as processor_gl_reason_code,
        processor_refunds.is_reason_mapped as is_processor_reason_mapped,
        processor_refunds.currency as processor_currency,
        processor_refunds.amount_minor as processor_amount_minor,
        processor_refunds.minor_units as processor_minor_units,
        processor_refunds.created_at as processor_created_at,
        processor_refunds.confirmed_at,
        storefront.storefront_refund_id,
        storefront.system_name as storefront_system_name,

        storefront.raw_status as storefront_raw_status,
        storefront.canonical_status as storefront_status,
        storefront.is_status_mapped as is_storefront_status_mapped,
        storefront.raw_reason as storefront_raw_reason,
        storefront.gl_reason_code as storefront_gl_reason_code,
        storefront.is_reason_mapped as is_storefront_reason_mapped,
        storefront.refund_type as storefront_refund_type,
        storefront.currency as storefront_currency,
        storefront.storefront_amount_minor,
        storefront.minor_units as storefront_minor_units,
        storefront.created_at as storefront_created_at,
        erp_primary.erp_document_id,
        erp_by_refund.erp_net_amount_minor,
        erp_primary.gl_account as erp_gl_account,
        erp_primary.gl_status as erp_gl_status,

        erp_primary.gl_refund_scope as erp_gl_refund_scope,
        erp_primary.is_gl_account_mapped as is_erp_gl_account_mapped,
        erp_primary.reason_code as erp_reason_code,
        erp_primary.refund_type as erp_refund_type,
        erp_primary.posting_period as erp_posting_period,
        erp_primary.currency as erp_currency,
        erp_primary.amount_minor as erp_amount_minor,
        erp_primary.minor_units as erp_minor_units,
        erp_primary.posted_at as erp_posted_at,
        erp_primary.received_at as erp_received_at,
        coalesce(processor_refunds.order_id, storefront.order_id, erp_primary.order_id) as order_id,
        processor_refunds.processor_refund_id is not null as has_processor_record,
        storefront.storefront_refund_id is not null as has_storefront_record,
        coalesce(storefront.storefront_record_count, 0) as storefront_record_count,
        erp_by_refund.refund_key is not null as has_erp_record,
        coalesce(erp_by_refund.erp_posting_count, 0) as erp_posting_count,
        coalesce(erp_by_refund.erp_duplicate_count, 0) as erp_duplicate_count,
        coalesce(erp_by_refund.erp_duplicate_amount_minor, 0) as erp_duplicate_amount_minor,
        coalesce(erp_by_refund.erp_reversal_count, 0) as erp_reversal_count

    from refund_keys
    left join processor_refunds
        on
            refund_keys.key_system = 'processor'
            and refund_keys.refund_key = processor_refunds.processor_refund_id
    left join storefront_by_refund as storefront
        on
            refund_keys.key_system = storefront.key_system
            and refund_keys.refund_key = storefront.refund_key
            and storefront.storefront_rank = 1
    left join erp_by_refund
        on
            refund_keys.key_system = erp_by_refund.key_system
            and refund_keys.refund_key = erp_by_refund.refund_key
    left join erp_primary
        on
            refund_keys.key_system = erp_primary.key_system
            and refund_keys.refund_key = erp_primary.refund_key

)

select * from final
