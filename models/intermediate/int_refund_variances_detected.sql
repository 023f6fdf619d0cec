{#- The variance rules (variance-rules.md): one row per (refund, variance
    type, system at fault). Every rule and every precedence between rules is
    here and nowhere else, and each has a unit test beside this model. -#}

{%- set sla_seconds = confirmation_sla_minutes() ~ ' * 60' -%}

with

refunds as (

    select * from {{ ref('int_refunds_matched') }}

),

refund_rules as (

    select
        *,
        {{ as_of_literal() }} as as_of,

        -- The state the ERP records: a reversal nets a booking out.
        case
            when erp_reversal_count > 0 then 'reversed'
            when erp_document_id is not null and key_system = 'processor' then erp_gl_status
        end as erp_state,

        -- Scope the ERP booked: from the GL account, or its own flag where
        -- the account serves either scope.
        case
            when erp_gl_refund_scope in ('partial', 'full') then erp_gl_refund_scope
            when erp_refund_type in ('partial', 'full') then erp_refund_type
        end as erp_scope,

        -- The business reason decides: the storefront's, the processor's
        -- only where the storefront gave none.
        case
            when storefront_raw_reason is not null then is_storefront_reason_mapped
            when processor_raw_reason is not null then is_processor_reason_mapped
            else true
        end as is_deciding_reason_mapped,
        case
            when storefront_raw_reason is not null then storefront_gl_reason_code
            else processor_gl_reason_code
        end as required_gl_reason_code,

        processor_currency = erp_currency as is_erp_currency_comparable,
        processor_currency = storefront_currency as is_storefront_currency_comparable,

        confirmed_at is not null
        and {{ dbt.datediff('confirmed_at', as_of_literal(), 'second') }} > {{ sla_seconds }}
            as is_confirmed_past_sla,
        {{ dbt.datediff('storefront_created_at', as_of_literal(), 'second') }} > {{ sla_seconds }}
            as is_storefront_record_past_sla,
        {{ dbt.datediff('confirmed_at', 'erp_received_at', 'second') }} > {{ sla_seconds }}
            as is_erp_receipt_late
    from refunds

),

orders as (

    -- Partial refunds per order: how many succeeded at the processor, and for
    -- how many of those the ERP holds a posting of their own.
    select
        order_id,
        count(*) as succeeded_refund_count,
        sum(case when erp_document_id is not null then 1 else 0 end) as erp_posted_refund_count
    from refund_rules
    where has_processor_record and processor_status = 'succeeded' and order_id is not null
    group by order_id

),

order_refund_counts as (

    select
        order_id,
        count(*) as live_refund_count
    from refund_rules
    where has_processor_record and coalesce(processor_status, '') not in ('failed', 'canceled') and order_id is not null
    group by order_id

),

refunds_in_context as (

    select
        refund_rules.*,
        case
            when refund_rules.storefront_refund_type in ('partial', 'full') then refund_rules.storefront_refund_type
            when order_refund_counts.live_refund_count > 1 then 'partial'
        end as refund_scope,
        coalesce(
            orders.succeeded_refund_count >= 2
            and orders.erp_posted_refund_count < orders.succeeded_refund_count,
            false
        ) as is_collapsed_order,
        refund_rules.erp_document_id is not null
        and refund_rules.is_erp_currency_comparable
        and abs(
            {{ minor_to_major('refund_rules.erp_amount_minor', 'refund_rules.erp_minor_units') }}
            - {{ minor_to_major('refund_rules.processor_amount_minor', 'refund_rules.processor_minor_units') }}
        ) > {{ amount_tolerance() }} as is_erp_amount_different,
        refund_rules.has_storefront_record
        and refund_rules.is_storefront_currency_comparable
        and abs(
            {{ minor_to_major('refund_rules.storefront_amount_minor', 'refund_rules.storefront_minor_units') }}
            - {{ minor_to_major('refund_rules.processor_amount_minor', 'refund_rules.processor_minor_units') }}
        ) > {{ amount_tolerance() }} as is_storefront_amount_different
    from refund_rules
    left join orders
        on refund_rules.order_id = orders.order_id
    left join order_refund_counts
        on refund_rules.order_id = order_refund_counts.order_id

),

classified as (

    select
        *,
        -- A succeeded refund of a collapsed order whose own posting is missing
        -- (past the SLA) or carries another amount.
        is_collapsed_order
        and processor_status = 'succeeded'
        and (
            (not has_erp_record and is_confirmed_past_sla)
            or is_erp_amount_different
        ) as is_partial_refund_collapsed,
        -- The processor's status is known: the state-dependent rules apply.
        coalesce(is_processor_status_mapped, false) as is_state_known
    from refunds_in_context

),

detected as (

    select key_system, refund_key, 'missing_in_erp' as variance_type, 'erp' as discrepancy_system
    from classified
    where is_state_known
        and processor_status = 'succeeded'
        and not has_erp_record
        and is_confirmed_past_sla
        and not is_partial_refund_collapsed

    union all

    select key_system, refund_key, 'missing_in_storefront', 'storefront'
    from classified
    where has_processor_record
        and not has_storefront_record
        and coalesce(processor_status, 'unknown') not in ('failed', 'canceled')

    union all

    select key_system, refund_key, 'missing_at_processor', 'processor'
    from classified
    where key_system = 'storefront'
        and coalesce(storefront_status, 'unknown') not in ('failed', 'canceled')
        and is_storefront_record_past_sla

    union all

    select key_system, refund_key, 'orphan_erp_posting', 'erp'
    from classified
    where key_system = 'erp'

    union all

    select key_system, refund_key, 'amount_mismatch', 'erp'
    from classified
    where is_erp_amount_different
        and not is_partial_refund_collapsed

    union all

    select key_system, refund_key, 'amount_mismatch', 'storefront'
    from classified
    where is_storefront_amount_different

    union all

    select key_system, refund_key, 'currency_mismatch', 'erp'
    from classified
    where erp_document_id is not null
        and has_processor_record
        and not is_erp_currency_comparable

    union all

    select key_system, refund_key, 'currency_mismatch', 'storefront'
    from classified
    where has_storefront_record
        and has_processor_record
        and not is_storefront_currency_comparable

    union all

    select key_system, refund_key, 'status_mismatch', 'erp'
    from classified
    where is_state_known
        and erp_state is not null
        and (
            (processor_status = 'succeeded' and (
                erp_state <> 'succeeded'
                or (refund_scope is not null and erp_scope is not null and refund_scope <> erp_scope)
            ))
            or (processor_status in ('pending', 'requested') and erp_state <> 'pending')
            or (processor_status in ('failed', 'canceled') and erp_state <> 'reversed')
        )

    union all

    select key_system, refund_key, 'partial_refund_collapsed', 'erp'
    from classified
    where is_state_known
        and is_partial_refund_collapsed

    union all

    select key_system, refund_key, 'duplicate_erp_posting', 'erp'
    from classified
    where erp_duplicate_count > 0

    union all

    select key_system, refund_key, 'confirmation_lag', 'erp'
    from classified
    where is_state_known
        and processor_status = 'succeeded'
        and erp_document_id is not null
        and is_erp_receipt_late

    union all

    select key_system, refund_key, 'wrong_period', 'erp'
    from classified
    where is_state_known
        and processor_status = 'succeeded'
        and erp_document_id is not null
        and confirmed_at is not null
        and erp_posting_period <> {{ accounting_period('confirmed_at') }}

    union all

    select key_system, refund_key, 'unmapped_status', 'processor'
    from classified
    where has_processor_record
        and not is_processor_status_mapped

    union all

    select key_system, refund_key, 'unmapped_status', 'storefront'
    from classified
    where has_storefront_record
        and not is_storefront_status_mapped

    union all

    select key_system, refund_key, 'unmapped_status', 'erp'
    from classified
    where erp_document_id is not null
        and not is_erp_gl_account_mapped

    union all

    select key_system, refund_key, 'unmapped_reason', 'storefront'
    from classified
    where has_storefront_record
        and not is_storefront_reason_mapped

    union all

    select key_system, refund_key, 'unmapped_reason', 'processor'
    from classified
    where has_processor_record
        and not is_processor_reason_mapped

    union all

    select key_system, refund_key, 'reason_mismatch', 'erp'
    from classified
    where key_system = 'processor'
        and erp_document_id is not null
        and is_deciding_reason_mapped
        and required_gl_reason_code is not null
        and coalesce(upper(erp_reason_code), '') <> upper(required_gl_reason_code)

),

final as (

    select
        detected.key_system,
        detected.refund_key,
        detected.variance_type,
        detected.discrepancy_system,
        classified.order_id,
        classified.is_partial_refund_collapsed,
        classified.erp_state,
        classified.erp_scope,
        classified.refund_scope,
        classified.required_gl_reason_code,
        classified.as_of
    from detected
    inner join classified
        on detected.key_system = classified.key_system
        and detected.refund_key = classified.refund_key

)

select * from final
