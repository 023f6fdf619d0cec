{#- PayPal refunds (source-shapes.md) as processor refund events: one row per
    refund in its current status (CANCELLED, FAILED, PENDING, COMPLETED),
    dated by update_time, the time of that status, so a COMPLETED refund's
    confirmation time is exact. Amounts are major units. The order reference
    is invoice_id (var paypal_order_id_field: invoice_id or custom_id).
    status_details.reason (ECHECK, ...) qualifies a pending status and is not
    a refund reason: PayPal refunds carry none. -#}
{{ config(enabled=refund_shape_enabled('processor', 'paypal')) }}

{%- set order_field = name_var('paypal_order_id_field', 'invoice_id') %}

with

source as (

    select
        {{ refund_input_columns(
            source('paypal', 'refund'),
            'paypal/refund',
            required=['id', 'status', 'amount_value', 'amount_currency_code', 'create_time'],
            optional=['update_time', 'capture_id', order_field],
        ) }}
    from {{ source('paypal', 'refund') }}

),

final as (

    select
        source_row_number,
        source_file,
        id as processor_refund_id,
        {{ shape_text('paypal') }} as processor,
        capture_id as payment_id,
        {{ order_field }} as order_id,
        amount_value as amount,
        {{ shape_text('major') }} as amount_unit,
        amount_currency_code as currency,
        status,
        {{ shape_text(none) }} as reason,
        create_time as created_at,
        coalesce(update_time, create_time) as event_at
    from source

)

select * from final
