{#- One row per processor refund: the event log collapsed to its current
    state (the latest event_at; later rows in the file win ties), statuses
    and reasons mapped, and confirmed_at = the earliest event at which the
    refund reached a final success status. A final status is one the refund
    cannot leave except for another final one (a success reversed): a mapped
    non-final status at or after the first final event does not become the
    current state, so no mapping of a later status can take a confirmed
    refund out of the confirmation check. An unmapped status still does (it
    is an unmapped_status variance). -#}

with

events as (

    select * from {{ ref('stg_processor__refund_events') }}
    where is_accepted

),

status_map as (

    select * from {{ ref('refund_status_map') }}
    where {{ normalized('source_system') }} = 'processor'

),

reason_map as (

    select * from {{ ref('refund_reason_map') }}
    where {{ normalized('source_system') }} = 'processor'

),

events_mapped as (

    select
        events.*,
        status_map.canonical_status,
        coalesce(status_map.is_final, false) as is_final_status,
        min(case when status_map.is_final then events.event_at end)
            over (partition by events.processor_refund_id) as first_final_at
    from events
    left join status_map
        on
            {{ normalized('status_map.system_name') }} = events.processor
            and {{ normalized('status_map.raw_status') }} = {{ normalized('events.raw_status') }}

),

ranked as (

    select
        *,
        row_number() over (
            partition by processor_refund_id
            order by
                -- a mapped non-final status after a final one cannot be current
                case
                    when canonical_status is not null and not is_final_status and event_at >= first_final_at
                        then 1
                    else 0
                end,
                event_at desc, source_file desc, source_row_number desc
        ) as recency_rank
    from events_mapped

),

refund_history as (

    select
        processor_refund_id,
        count(*) as source_row_count,
        min(created_at) as created_at,
        min(case when canonical_status = 'succeeded' and is_final_status then event_at end) as confirmed_at,
        max(order_id) as any_order_id,
        max(payment_id) as any_payment_id,
        max(raw_reason) as any_raw_reason
    from events_mapped
    group by processor_refund_id

),

current_state as (

    select
        ranked.processor_refund_id,
        ranked.processor,
        ranked.raw_status,
        ranked.canonical_status,
        ranked.currency,
        ranked.amount_minor,
        ranked.minor_units,
        refund_history.source_row_count,
        refund_history.created_at,
        ranked.event_at as status_at,
        refund_history.confirmed_at,
        coalesce(ranked.order_id, refund_history.any_order_id) as order_id,
        coalesce(ranked.payment_id, refund_history.any_payment_id) as payment_id,
        coalesce(ranked.raw_reason, refund_history.any_raw_reason) as raw_reason
    from ranked
    inner join refund_history
        on ranked.processor_refund_id = refund_history.processor_refund_id
    where ranked.recency_rank = 1

),

final as (

    select
        current_state.processor_refund_id,
        current_state.processor,
        current_state.order_id,
        current_state.payment_id,
        current_state.raw_status,
        current_state.canonical_status,
        current_state.raw_reason,
        reason_map.canonical_reason,
        reason_map.gl_reason_code,
        current_state.currency,
        current_state.amount_minor,
        current_state.minor_units,
        current_state.source_row_count,
        current_state.created_at,
        current_state.status_at,
        current_state.confirmed_at,
        current_state.canonical_status is not null as is_status_mapped,
        current_state.raw_reason is null or reason_map.raw_reason is not null as is_reason_mapped
    from current_state
    left join reason_map
        on
            {{ normalized('reason_map.system_name') }} = current_state.processor
            and {{ normalized('reason_map.raw_reason') }} = {{ normalized('current_state.raw_reason') }}

)

select * from final
