{#- One row per storefront refund: its current state (the row with the latest
    updated_at, else created_at; later rows in the file win ties), with the
    storefront's status and reason mapped to canonical values. -#}

with

refunds as (

    select * from {{ ref('stg_storefront__refunds') }}
    where is_accepted

),

status_map as (

    select * from {{ ref('refund_status_map') }}
    where {{ normalized('source_system') }} = 'storefront'

),

reason_map as (

    select * from {{ ref('refund_reason_map') }}
    where {{ normalized('source_system') }} = 'storefront'

),

ranked as (

    select
        *,
        row_number() over (
            partition by storefront_refund_id
            order by recorded_at desc, source_file desc, source_row_number desc
        ) as recency_rank,
        count(*) over (partition by storefront_refund_id) as source_row_count
    from refunds

),

current_state as (

    select * from ranked
    where recency_rank = 1

),

mapped as (

    select
        current_state.*,
        status_map.canonical_status,
        reason_map.canonical_reason,
        reason_map.gl_reason_code,
        status_map.canonical_status is not null as is_status_mapped,
        current_state.raw_reason is null or reason_map.raw_reason is not null as is_reason_mapped
    from current_state
    left join status_map
        on
            {{ normalized('status_map.system_name') }} = current_state.system_name
            and {{ normalized('status_map.raw_status') }} = {{ normalized('current_state.raw_status') }}
    left join reason_map
        on
            {{ normalized('reason_map.system_name') }} = current_state.system_name
            and {{ normalized('reason_map.raw_reason') }} = {{ normalized('current_state.raw_reason') }}

),

final as (

    select
        storefront_refund_id,
        order_id,
        processor_refund_id,
        system_name,
        raw_status,
        canonical_status,
        raw_reason,
        canonical_reason,
        gl_reason_code,
        channel,
        currency,
        amount_minor,
        minor_units,
        source_row_count,
        is_status_mapped,
        is_reason_mapped,
        created_at,
        recorded_at,
        case when refund_type in ('partial', 'full') then refund_type end as refund_type
    from mapped

)

select * from final
