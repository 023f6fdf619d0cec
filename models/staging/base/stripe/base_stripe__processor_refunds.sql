{#- Stripe refunds (source-shapes.md; docs/connectors.md 2) as processor
    refund events, read from whichever landing is there, told apart by its
    columns (var stripe_variant forces one):
    - fivetran: table `refund`, `created` a timestamp, ids `charge_id`,
      `payment_intent_id` (fivetran/dbt_stripe_source src_stripe.yml);
    - airbyte: table `refunds` (found without a setting), Airbyte's
      `_airbyte_*` columns, `created` and `updated` in Unix epoch seconds,
      ids `charge`, `payment_intent`; an append sync lands one row per
      change: the latest by `updated`, then `_airbyte_extracted_at`, is read
      (connector_current_rows, which also reads Fivetran's and Stitch's
      delete and history columns);
    - api_json: Refund objects exported from the API (`object` = refund),
      `created` in epoch seconds, nested objects as JSON text.
    A row is an event: its time is `updated` when the landing has it (the
    time of that state), else `created` (Stripe keeps no status history on
    the object: DECISIONLOG, the confirmation lag is then an upper bound).
    Amounts are integer minor units at Stripe's exponent (seed
    currency_exponents: ISK 2, MGA 0), converted here to major-unit text;
    currency is lower case (upper-cased in
    staging); the order reference is a metadata key (var
    stripe_order_id_metadata_key, default order_id), read from the
    `metadata` JSON or, flattened, from metadata.<key> (json_normalize, jq)
    or metadata__<key> (Stitch, Meltano). -#}
{{ config(enabled=refund_shape_enabled('processor', 'stripe')) }}

{%- set refund_relation = refund_source_relation('stripe', 'refund', alternatives=['refunds']) %}
{%- if refund_relation is none %}
    {{ refund_recon_fail("input 'stripe/refund' not found: expected table " ~ source('stripe', 'refund') ~ " (or Airbyte's `refunds` in the same schema)") }}
{%- endif %}
{%- set order_key = name_var('stripe_order_id_metadata_key', 'order_id') %}
{%- set variant = refund_shape_variant('stripe', refund_relation, [
    ['airbyte', ['_airbyte_raw_id']],
    ['fivetran', ['_fivetran_synced']],
    ['fivetran', ['charge_id']],
    ['api_json', ['object']],
], default='fivetran') %}

with

exponents as (

    {{ system_currency_exponents('stripe') }}

),

source as (

    select
        {{ refund_input_columns(
            refund_relation,
            'stripe/refund',
            required=['id', 'amount', 'currency', 'status', 'created'],
            optional=['reason', 'charge_id', 'charge', 'payment_intent_id', 'payment_intent', 'metadata', 'updated',
                'metadata_' ~ order_key],
            aliases={'metadata_' ~ order_key: 'metadata_order_key'},
        ) }}
    from {{ connector_current_rows(refund_relation, key=['id'], cursor='updated') }}

),

final as (

    select
        source.source_row_number,
        source.source_file,
        source.id as processor_refund_id,
        {{ shape_text('stripe') }} as processor,
        coalesce(source.charge_id, source.charge, source.payment_intent_id, source.payment_intent) as payment_id,
        coalesce(nullif(trim(source.metadata_order_key), ''), {{ json_text('source.metadata', order_key) }}) as order_id,
        {{ system_minor_as_major_text('source.amount', 'exponents.minor_units') }} as amount,
        {{ system_minor_amount_unit('source.amount', 'exponents.minor_units') }} as amount_unit,
        source.currency,
        source.status,
        source.reason,
        {{ epoch_seconds_as_iso_text('source.created') }} as created_at,
        {%- if variant == 'airbyte' %}
        coalesce({{ epoch_seconds_as_iso_text('source.updated') }}, {{ epoch_seconds_as_iso_text('source.created') }}) as event_at
        {%- else %}
        {{ epoch_seconds_as_iso_text('source.created') }} as event_at
        {%- endif %}
    from source
    left join exponents
        on upper(trim(source.currency)) = exponents.currency

)

select * from final
