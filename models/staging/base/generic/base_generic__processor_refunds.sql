{#- The generic processor_refunds input (contracts.md 1), as the shape contract:
    every column as text, header names matched case-insensitively. -#}
{{ config(enabled=refund_shape_enabled('processor', 'generic')) }}

with

source as (

    select
        {{ refund_input_columns(
            source('processor', 'processor_refunds'),
            'processor_refunds',
            required=['processor_refund_id', 'processor', 'amount', 'currency', 'status', 'created_at', 'event_at'],
            optional=['payment_id', 'order_id', 'reason'],
        ) }}
    from {{ source('processor', 'processor_refunds') }}

),

final as (

    select
        *,
        {{ shape_text('major') }} as amount_unit
    from source

)

select * from final
