{#- PayPal refunds (source-shapes.md; docs/connectors.md 3) as processor
    refund events, read from whichever landing is there, told apart by its
    columns (var paypal_variant forces one):
    - transaction_search: Transaction Search rows as Airbyte's
      source-paypal-transaction lands them (table `transactions`, found
      without a setting; `transaction_info` as JSON text). A refund is a row
      whose transaction_event_code is in var paypal_refund_event_codes
      (default T1107, payment refund initiated by the merchant; payments,
      PayPal-initiated reversals T1106 and chargebacks T1201 are not
      refunds and are left out). The amount is the absolute value (money
      out is negative), the payment is the original transaction
      (paypal_reference_id), the status PayPal's letter (S, P, D, V, F),
      dated by transaction_updated_date; several rows per transaction are
      its history. Offsets written `+0000` are read.
    - v2_refunds: Payments v2 Refund objects exported from the API, `amount`
      a JSON object, no capture id column: the refunded capture is the
      `links` entry with rel = up.
    - v2_flat: the same objects flattened (amount_value,
      amount_currency_code, capture_id), the project's earlier shape.
    v2 refunds are one row per refund in its current status (CANCELLED,
    FAILED, PENDING, COMPLETED), dated by update_time, the time of that
    status, so a COMPLETED refund's confirmation time is exact. Amounts are
    major units. The order reference is invoice_id (var
    paypal_order_id_field: invoice_id or custom_id; Transaction Search
    calls the latter custom_field). status_details.reason (ECHECK, ...)
    qualifies a pending status and note_to_payer is free text: PayPal
    refunds carry no reason code. -#}
{{ config(enabled=refund_shape_enabled('processor', 'paypal')) }}

{%- set order_field = name_var('paypal_order_id_field', 'invoice_id') %}
{%- set refund_relation = refund_source_relation('paypal', 'refund', alternatives=['refunds', 'transactions', 'transaction']) %}
{%- if refund_relation is none %}
    {{ refund_recon_fail("input 'paypal/refund' not found: expected table " ~ source('paypal', 'refund') ~ " (or `refunds`, `transactions` in the same schema)") }}
{%- endif %}
{%- set variant = refund_shape_variant('paypal', refund_relation, [
    ['transaction_search', ['transaction_info']],
    ['v2_refunds', ['links']],
    ['v2_flat', ['amount_value']],
], default='v2_flat') %}
{%- set event_codes = paypal_refund_event_codes() %}

with

{%- if variant == 'transaction_search' %}

source as (

    select
        {{ refund_input_columns(
            refund_relation,
            'paypal/transactions',
            required=['transaction_info'],
            optional=['transaction_id', 'transaction_updated_date'],
            aliases={'transaction_id': 'top_transaction_id', 'transaction_updated_date': 'top_updated_date'},
        ) }}
    from {{ connector_current_rows(refund_relation, key=['transaction_id'], cursor='transaction_updated_date') }}

),

transactions as (

    select
        source_row_number,
        source_file,
        coalesce({{ json_text('transaction_info', 'transaction_id') }}, top_transaction_id) as transaction_id,
        upper(trim({{ json_text('transaction_info', 'transaction_event_code') }})) as event_code,
        {{ json_text('transaction_info', 'paypal_reference_id') }} as paypal_reference_id,
        {{ json_text('transaction_info', 'invoice_id') }} as invoice_id,
        {{ json_text('transaction_info', 'custom_field') }} as custom_id,
        {{ json_text_path('transaction_info', ['transaction_amount', 'value']) }} as amount_value,
        {{ json_text_path('transaction_info', ['transaction_amount', 'currency_code']) }} as amount_currency_code,
        {{ json_text('transaction_info', 'transaction_status') }} as status,
        {{ json_text('transaction_info', 'transaction_initiation_date') }} as create_time,
        coalesce({{ json_text('transaction_info', 'transaction_updated_date') }}, top_updated_date) as update_time
    from source

),

final as (

    select
        source_row_number,
        source_file,
        transaction_id as processor_refund_id,
        {{ shape_text('paypal') }} as processor,
        paypal_reference_id as payment_id,
        {{ order_field }} as order_id,
        -- Money out is negative for the merchant: the refund is its size.
        case when trim(amount_value) like '-%' then substr(trim(amount_value), 2) else trim(amount_value) end as amount,
        {{ shape_text('major') }} as amount_unit,
        amount_currency_code as currency,
        status,
        {{ shape_text(none) }} as reason,
        create_time as created_at,
        coalesce(update_time, create_time) as event_at
    from transactions
    where event_code in ('{{ event_codes | join("', '") }}')

)

{%- else %}

source as (

    select
        {{ refund_input_columns(
            refund_relation,
            'paypal/refund',
            required=['id', 'status', 'create_time'] + (['amount', 'links'] if variant == 'v2_refunds' else ['amount_value', 'amount_currency_code']),
            optional=['update_time', 'capture_id', order_field] + (['amount_value', 'amount_currency_code'] if variant == 'v2_refunds' else []),
        ) }}
    from {{ connector_current_rows(refund_relation, key=['id'], cursor='update_time') }}

),

final as (

    select
        source_row_number,
        source_file,
        id as processor_refund_id,
        {{ shape_text('paypal') }} as processor,
        {%- if variant == 'v2_refunds' %}
        coalesce(capture_id, {{ json_link_target_id('links', 'up') }}) as payment_id,
        {%- else %}
        capture_id as payment_id,
        {%- endif %}
        {{ order_field }} as order_id,
        {%- if variant == 'v2_refunds' %}
        coalesce(amount_value, {{ json_text('amount', 'value') }}) as amount,
        {%- else %}
        amount_value as amount,
        {%- endif %}
        {{ shape_text('major') }} as amount_unit,
        {%- if variant == 'v2_refunds' %}
        coalesce(amount_currency_code, {{ json_text('amount', 'currency_code') }}) as currency,
        {%- else %}
        amount_currency_code as currency,
        {%- endif %}
        status,
        {{ shape_text(none) }} as reason,
        create_time as created_at,
        coalesce(update_time, create_time) as event_at
    from source

)

{%- endif %}

select * from final
