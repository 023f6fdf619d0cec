{#- Stripe refunds (source-shapes.md) as processor refund events. One row per
    refund in its current state: Stripe keeps no status history on the
    object, so the row's event time is the refund's `created` (DECISIONLOG:
    the confirmation lag is then measured from creation, an upper bound).
    Amounts are integer minor units; currency is lower case (upper-cased in
    staging); the order reference is a metadata key (var
    stripe_order_id_metadata_key, default order_id). -#}
{{ config(enabled=refund_shape_enabled('processor', 'stripe')) }}

with

source as (

    select
        {{ refund_input_columns(
            source('stripe', 'refund'),
            'stripe/refund',
            required=['id', 'amount', 'currency', 'status', 'created'],
            optional=['reason', 'charge_id', 'charge', 'payment_intent_id', 'payment_intent', 'metadata'],
        ) }}
    from {{ source('stripe', 'refund') }}

),

final as (

    select
        source_row_number,
        source_file,
        id as processor_refund_id,
        {{ shape_text('stripe') }} as processor,
        coalesce(charge_id, charge, payment_intent_id, payment_intent) as payment_id,
        {{ json_text('metadata', name_var('stripe_order_id_metadata_key', 'order_id')) }} as order_id,
        amount,
        {{ shape_text('minor') }} as amount_unit,
        currency,
        status,
        reason,
        created as created_at,
        created as event_at
    from source

)

select * from final
