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
    - v2_refunds / v2_flat: Payments v2 Refund objects, whichever way the
      exporter wrote the nested `amount`: a JSON column (Fivetran, Airbyte,
      an API export), or flattened to `amount.value` (pandas json_normalize,
      jq) or `amount__value` (Stitch, Meltano), all read as amount_value;
      the flat column wins where both are there. The refunded capture is
      capture_id, else the `links` entry with rel = up: `links` as JSON, or
      flattened by jq to links.<n>.rel / links.<n>.href. `links` written as
      Python text (json_normalize keeps lists as objects and to_csv writes
      their repr) is refused with a clear error rather than guessed.
    Transaction Search is read the same way: `transaction_info` as JSON, or
    flattened (transaction_info.transaction_id, transaction_info__...).
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
    ['transaction_search', ['transaction_info_transaction_id']],
    ['v2_refunds', ['links']],
    ['v2_flat', ['amount_value']],
], default='v2_flat') %}
{%- set columns = refund_relation_columns(refund_relation) %}
{#- jq's flattening of the links array: links.0.rel, links.0.href, ... -#}
{%- set flat_links = [] %}
{%- set flat_link_columns = [] %}
{%- for index in range(10) if ('links_' ~ index ~ '_rel') in columns and ('links_' ~ index ~ '_href') in columns %}
    {%- do flat_links.append(index) %}
    {%- do flat_link_columns.extend(['links_' ~ index ~ '_rel', 'links_' ~ index ~ '_href']) %}
{%- endfor %}
{%- if variant != 'transaction_search' and columns %}
    {%- if 'amount' not in columns and 'amount_value' not in columns %}
        {{ refund_recon_fail("input 'paypal/refund' (" ~ refund_input_location(refund_relation, 'paypal/refund') ~ ") has no amount: expected column amount (JSON) or amount.value / amount__value and amount.currency_code / amount__currency_code (flattened). Columns found: " ~ columns | join(', ') ~ ".") }}
    {%- endif %}
    {%- if 'links' in columns and paypal_links_hold_python_text(refund_relation, columns) %}
        {{ refund_recon_fail("input 'paypal/refund' (" ~ refund_input_location(refund_relation, 'paypal/refund') ~ "): column links holds Python text ([{'href': ...}]), not JSON, as pandas writes a list left by json_normalize: write links as JSON (json.dumps) or flatten it (jq: links.0.rel, links.0.href) so the refunded capture can be read") }}
    {%- endif %}
{%- endif %}
{%- set event_codes = paypal_refund_event_codes() %}

with

{%- if variant == 'transaction_search' %}

source as (

    select
        {{ refund_input_columns(
            refund_relation,
            'paypal/transactions',
            required=['transaction_info_transaction_id'] if 'transaction_info_transaction_id' in columns else ['transaction_info'],
            optional=['transaction_info', 'transaction_id', 'transaction_updated_date'] + paypal_flat_transaction_fields(),
            aliases={'transaction_id': 'top_transaction_id', 'transaction_updated_date': 'top_updated_date'},
        ) }}
    from {{ connector_current_rows(refund_relation, key=['transaction_id'], cursor='transaction_updated_date') }}

),

transactions as (

    select
        source_row_number,
        source_file,
        coalesce({{ paypal_transaction_field(['transaction_id']) }}, top_transaction_id) as transaction_id,
        upper(trim({{ paypal_transaction_field(['transaction_event_code']) }})) as event_code,
        {{ paypal_transaction_field(['paypal_reference_id']) }} as paypal_reference_id,
        {{ paypal_transaction_field(['invoice_id']) }} as invoice_id,
        {{ paypal_transaction_field(['custom_field']) }} as custom_id,
        {{ paypal_transaction_field(['transaction_amount', 'value']) }} as amount_value,
        {{ paypal_transaction_field(['transaction_amount', 'currency_code']) }} as amount_currency_code,
        {{ paypal_transaction_field(['transaction_status']) }} as status,
        {{ paypal_transaction_field(['transaction_initiation_date']) }} as create_time,
        coalesce({{ paypal_transaction_field(['transaction_updated_date']) }}, top_updated_date) as update_time
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
            required=['id', 'status', 'create_time'],
            optional=['update_time', 'capture_id', order_field, 'amount', 'links', 'amount_value', 'amount_currency_code']
                + flat_link_columns,
        ) }}
    from {{ connector_current_rows(refund_relation, key=['id'], cursor='update_time') }}

),

final as (

    select
        source_row_number,
        source_file,
        id as processor_refund_id,
        {{ shape_text('paypal') }} as processor,
        coalesce(
            nullif(trim(capture_id), ''),
            {%- for index in flat_links %}
            case when lower(trim(links_{{ index }}_rel)) = 'up' then {{ url_last_segment('trim(links_' ~ index ~ '_href)') }} end,
            {%- endfor %}
            {{ json_link_target_id('links', 'up') }}
        ) as payment_id,
        {{ order_field }} as order_id,
        coalesce(amount_value, {{ json_text('amount', 'value') }}) as amount,
        {{ shape_text('major') }} as amount_unit,
        coalesce(amount_currency_code, {{ json_text('amount', 'currency_code') }}) as currency,
        status,
        {{ shape_text(none) }} as reason,
        create_time as created_at,
        coalesce(update_time, create_time) as event_at
    from source

)

{%- endif %}

select * from final
