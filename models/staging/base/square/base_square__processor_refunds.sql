{#- Square refunds (docs/connectors.md 6; docs/your-data.md) as processor
    refund events: Payments API PaymentRefund objects as Airbyte's
    source-square lands its `refunds` stream, one row per change of a refund
    (an append sync re-reads a refund whenever it changes). Each refund id
    keeps its latest version: the greatest updated_at, then the latest
    _airbyte_extracted_at (Airbyte's append/dedup order), then the later row;
    a version whose updated_at cannot be read sorts first, so the refund is
    rejected in staging instead of read from an older version. Square's
    PENDING, COMPLETED, REJECTED and FAILED are mapped by the status seed.
    amount_money is JSON {amount, currency} (Airbyte, API exports) or
    flattened (amount_money__amount from Stitch and Meltano,
    amount_money.amount from json_normalize or jq): the amount is in the
    smallest denomination of the currency (Square's Working with Monetary
    Amounts), read as minor units. `reason` is free text, not a code: no
    reason is read. -#}
{{ config(enabled=refund_shape_enabled('processor', 'square')) }}

{%- set refund_relation = refund_source_relation('square', 'refunds') %}
{%- if refund_relation is none %}
    {{ refund_recon_fail("input 'square/refunds' not found: expected table " ~ source('square', 'refunds')) }}
{%- endif %}
{%- set columns = refund_relation_columns(refund_relation) %}
{%- if columns and 'amount_money' not in columns and 'amount_money_amount' not in columns %}
    {{ refund_recon_fail("input 'square/refunds' (" ~ refund_input_location(refund_relation, 'square/refunds') ~ ") has no amount: expected column amount_money (JSON) or amount_money__amount and amount_money__currency (flattened). Columns found: " ~ (columns | reject('in', ['_source_row_number', '_source_file']) | join(', ')) ~ ".") }}
{%- endif %}

with

source as (

    select
        {{ refund_input_columns(
            refund_relation,
            'square/refunds',
            required=['id', 'status', 'created_at'],
            optional=['amount_money', 'amount_money_amount', 'amount_money_currency', 'payment_id', 'order_id',
                'updated_at', '_airbyte_extracted_at'],
            aliases={'_airbyte_extracted_at': 'extracted_at'},
        ) }}
    from {{ refund_relation }}

),

versions as (

    select
        source_row_number,
        source_file,
        id,
        status,
        coalesce(amount_money_amount, {{ json_text('amount_money', 'amount') }}) as amount,
        coalesce(amount_money_currency, {{ json_text('amount_money', 'currency') }}) as currency,
        payment_id,
        order_id,
        created_at,
        coalesce(updated_at, created_at) as event_at,
        row_number() over (
            partition by trim(id)
            order by
                {{ parse_timestamp_utc('trim(coalesce(updated_at, created_at))') }} desc nulls first,
                {{ parse_timestamp_utc('trim(extracted_at)') }} desc nulls last,
                source_file desc,
                source_row_number desc
        ) as version_rank
    from source

),

final as (

    select
        source_row_number,
        source_file,
        id as processor_refund_id,
        {{ shape_text('square') }} as processor,
        payment_id,
        order_id,
        amount,
        {{ shape_text('minor') }} as amount_unit,
        currency,
        status,
        {{ shape_text(none) }} as reason,
        created_at,
        event_at
    from versions
    where version_rank = 1

)

select * from final
