{#- The generic storefront_refunds input (contracts.md 1), as the shape contract:
    every column as text, header names matched case-insensitively. -#}
{{ config(enabled=refund_shape_enabled('storefront', 'generic')) }}

with

source as (

    select
        {{ refund_input_columns(
            source('storefront', 'storefront_refunds'),
            'storefront_refunds',
            required=['storefront_refund_id', 'order_id', 'amount', 'currency', 'status', 'created_at'],
            optional=['processor_refund_id', 'refund_type', 'reason', 'updated_at', 'channel', 'storefront'],
        ) }}
    from {{ source('storefront', 'storefront_refunds') }}

),

final as (

    select
        *,
        {{ shape_text('major') }} as amount_unit
    from source

)

select * from final
