{#- Adyen webhook notifications (source-shapes.md) as processor refund
    events. Every notification whose eventCode mentions REFUND is a refund
    event (REFUND, REFUND_FAILED, REFUNDED_REVERSED, CANCEL_OR_REFUND,
    REFUND_WITH_DATA, and any code Adyen adds, which then surfaces as
    unmapped_status instead of vanishing); other events (AUTHORISATION,
    CAPTURE, ...) are payments, not refunds. Adyen documents seven
    refund-family codes (tests/fixtures/connectors/documented_codes/
    adyen_statuses.csv): REFUND, REFUND_FAILED, REFUNDED_REVERSED,
    CANCEL_OR_REFUND, REFUND_WITH_DATA, POSTPONED_REFUND and
    VOID_PENDING_REFUND. The status is eventCode and the success flag
    together ('REFUND:true', 'REFUND:false'), mapped in refund_status_map
    like any processor status; for CANCEL_OR_REFUND the action Adyen took,
    additionalData `modification.action` (a key with a dot, or nested, or a
    flattened column), is appended: 'CANCEL_OR_REFUND:true:cancel' is a
    cancelled authorisation (no money moved), ':refund' a refund. The latest
    event is the refund's state, so a REFUND_FAILED after a successful REFUND
    reverses it. Headers may be Adyen's camelCase or snake_case.
    An event's own date stands as created_at: staging takes the earliest.
    Without notifications, the Settlement details report (what Fivetran's
    Adyen connector ingests; var adyen_variant forces one) is read instead:
    a refund is a line whose record type is in var
    adyen_settlement_refund_types (Refunded, RefundedExternally,
    RefundedExternallyWithInfo, RefundedBulk, and RefundedReversed, which
    reverses it); settled payments, chargebacks, costs and payouts are left
    out. Its id is the Modification Reference, the payment the Psp
    Reference, the amount the gross debit (credit for a reversal) in major
    units, the status the record type, the time the Creation Date in the
    report's TimeZone (local time, converted to UTC: an abbreviation such as
    CEST or PDT through seed time_zone_abbreviations as the fixed offset it
    names; an IANA name on DuckDB and PostgreSQL; anything else is rejected
    naming it). Adyen's Magento 2 and Shopware 6 plugins keep the webhooks
    in their own `adyen_notification` table (var adyen_notification_table;
    adyen_variant magento2 or shopware6, found by their columns
    `pspreference` and `entity_id` or `id`): the same fields in snake_case,
    `success` as 'true'/'false' (Magento) or 1/0 (Shopware; anything else
    leaves the event without a status, so staging rejects it), no
    eventDate: `created_at`, when the shop received the webhook, in UTC.
    Webhook amounts are minor units at Adyen's exponent (seed
    currency_exponents: CLP and ISK 2, CVE and IDR 0), converted here. -#}
{{ config(enabled=refund_shape_enabled('processor', 'adyen')) }}
-- The variant picks which seeds are read (report times or webhook exponents):
-- depends_on: {{ ref('time_zone_abbreviations') }}, {{ ref('currency_exponents') }}, {{ ref('currencies') }}

{%- set notification_relation = refund_source_relation('adyen', 'notification') %}
{%- set report_relation = refund_source_relation('adyen', 'settlement_detail_report') %}
{%- set variant = adyen_variant(notification_relation, report_relation) %}

with

{%- if variant == 'settlement_details' %}

time_zones as (

    select
        upper(trim(abbreviation)) as abbreviation,
        nullif(trim(utc_offset), '') as utc_offset
    from {{ ref('time_zone_abbreviations') }}
    where lower(trim(system_name)) = 'adyen'

),

source as (

    select
        {{ refund_input_columns(
            report_relation,
            'adyen/settlement_detail_report',
            required=['modification_reference', 'type', 'gross_currency', 'creation_date'],
            optional=['psp_reference', 'merchant_reference', 'gross_debit_gc', 'gross_credit_gc', 'time_zone'],
        ) }}
    from {{ connector_current_rows(report_relation) }}

),

final as (

    select
        source_row_number,
        source_file,
        modification_reference as processor_refund_id,
        {{ shape_text('adyen') }} as processor,
        psp_reference as payment_id,
        merchant_reference as order_id,
        coalesce(nullif(trim(gross_debit_gc), ''), gross_credit_gc) as amount,
        {{ shape_text('major') }} as amount_unit,
        gross_currency as currency,
        type as status,
        {{ shape_text(none) }} as reason,
        {{ adyen_report_time('source.creation_date', 'source.time_zone', 'time_zones.utc_offset') }} as created_at,
        {{ adyen_report_time('source.creation_date', 'source.time_zone', 'time_zones.utc_offset') }} as event_at
    from source
    left join time_zones
        on upper(trim(source.time_zone)) = time_zones.abbreviation
    where lower(trim(source.type)) in ('{{ adyen_settlement_refund_types() | join("', '") }}')

)

{%- else %}

exponents as (

    {{ system_currency_exponents('adyen') }}

),

{%- if variant in ['magento2', 'shopware6'] %}

plugin_table as (

    select
        {{ refund_input_columns(
            notification_relation,
            'adyen/notification',
            required=['pspreference', 'event_code', 'success', 'amount_value', 'amount_currency', 'created_at'],
            optional=['original_reference', 'merchant_reference', 'additional_data'],
        ) }}
    from {{ notification_relation }}

),

source as (

    select
        source_row_number,
        source_file,
        pspreference as psp_reference,
        event_code,
        {{ adyen_plugin_success('success') }} as success,
        amount_value,
        amount_currency,
        -- when the shop received the webhook, UTC (the table has no eventDate)
        created_at as event_date,
        original_reference,
        merchant_reference,
        additional_data,
        {{ shape_text(none) }} as additional_data_modification_action
    from plugin_table

),

{%- else %}

source as (

    select
        {{ refund_input_columns(
            notification_relation,
            'adyen/notification',
            required=['psp_reference', 'event_code', 'success', 'amount_value', 'amount_currency', 'event_date'],
            optional=['original_reference', 'merchant_reference', 'merchant_account_code', 'additional_data',
                'additional_data_modification_action'],
        ) }}
    from {{ connector_current_rows(notification_relation) }}

),

{%- endif %}

refund_events as (

    select
        *,
        lower(trim(coalesce(
            nullif(trim(additional_data_modification_action), ''),
            {{ json_text_path('additional_data', ['modification.action']) }},
            {{ json_text_path('additional_data', ['modification', 'action']) }}
        ))) as modification_action
    from source
    where upper(event_code) like '%REFUND%'

),

final as (

    select
        refund_events.source_row_number,
        refund_events.source_file,
        refund_events.psp_reference as processor_refund_id,
        {{ shape_text('adyen') }} as processor,
        refund_events.original_reference as payment_id,
        refund_events.merchant_reference as order_id,
        -- minor units at Adyen's exponent, as major-unit text
        {{ system_minor_as_major_text('refund_events.amount_value', 'exponents.minor_units') }} as amount,
        {{ system_minor_amount_unit('refund_events.amount_value', 'exponents.minor_units') }} as amount_unit,
        refund_events.amount_currency as currency,
        {%- set event_code = 'upper(trim(refund_events.event_code))' %}
        {%- set success = "lower(trim(coalesce(refund_events.success, '')))" %}
        case
            -- a plugin table's success flag that is none of true/false/1/0
            when {{ 'refund_events.success is null' if variant in ['magento2', 'shopware6'] else 'false' }}
                then {{ shape_text(none) }}
            when {{ event_code }} = 'CANCEL_OR_REFUND' and nullif(refund_events.modification_action, '') is not null
                then {{ dbt.concat([event_code, "':'", success, "':'", 'refund_events.modification_action']) }}
            else {{ dbt.concat([event_code, "':'", success]) }}
        end as status,
        -- Adyen's `reason` is refusal text, not a business reason.
        {{ shape_text(none) }} as reason,
        refund_events.event_date as created_at,
        refund_events.event_date as event_at
    from refund_events
    left join exponents
        on upper(trim(refund_events.amount_currency)) = exponents.currency

)

{%- endif %}

select * from final
