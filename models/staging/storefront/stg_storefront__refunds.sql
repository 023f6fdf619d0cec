{#- One row per input row: every column trimmed, cast and parsed; amounts in
    integer minor units; timestamps in UTC. A row that cannot be reconciled
    keeps its place here with rejected_column and rejection_reason set. -#}

with

source as (

    -- every enabled shape of this input (var storefront_shapes), as text
    {{ union_refund_shapes('storefront', 'storefront_refunds') }}

),

currencies as (

    select * from {{ ref('currencies') }}

),

cleaned as (

    select
        source_shape,
        source_row_number,
        source_file,
        {{ clean_text('storefront_refund_id') }} as storefront_refund_id,
        {{ clean_text('order_id') }} as order_id,
        {{ clean_text('processor_refund_id') }} as processor_refund_id,
        coalesce(lower({{ clean_text('storefront') }}), 'generic') as system_name,
        upper({{ clean_text('currency') }}) as currency,
        {{ clean_text('status') }} as status,
        {{ clean_text('reason') }} as reason,
        lower({{ clean_text('refund_type') }}) as refund_type,
        lower({{ clean_text('channel') }}) as channel,
        {{ clean_text('amount') }} as amount_text,
        lower({{ clean_text('amount_unit') }}) as amount_unit,
        {{ clean_text('created_at') }} as created_at_text,
        {{ clean_text('updated_at') }} as updated_at_text
    from source

),

parsed as (

    select
        cleaned.*,
        currencies.minor_units,
        {{ amount_text_to_minor('cleaned.amount_text', 'cleaned.amount_unit', 'currencies.minor_units') }} as amount_minor,
        {{ parse_timestamp_utc('cleaned.created_at_text') }} as created_at,
        {{ parse_timestamp_utc('cleaned.updated_at_text') }} as updated_at
    from cleaned
    left join currencies
        on cleaned.currency = currencies.currency

),

validated as (

    select
        *,
        {{ first_failed_check(
            check_required_text('storefront_refund_id')
            + check_required_text('order_id')
            + check_required_text('status')
            + check_money()
            + check_timestamp('created_at')
            + check_timestamp('updated_at', required=false)
        ) }}
    from parsed

),

final as (

    select
        -- ids
        source_row_number,
        storefront_refund_id,
        order_id,
        processor_refund_id,

        -- strings
        source_shape,
        source_file,
        system_name,
        status as raw_status,
        reason as raw_reason,
        refund_type,
        channel,
        currency,
        amount_text,
        rejected_column,
        rejection_reason,

        -- numerics
        amount_minor,
        minor_units,

        -- booleans
        rejection_reason is null as is_accepted,

        -- timestamps
        created_at,
        updated_at,
        coalesce(updated_at, created_at) as recorded_at

    from validated

)

select * from final
