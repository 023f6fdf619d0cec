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
    report's TimeZone (local time, converted to UTC). -#}
{{ config(enabled=refund_shape_enabled('processor', 'adyen')) }}

{%- set notification_relation = refund_source_relation('adyen', 'notification') %}
{%- set report_relation = refund_source_relation('adyen', 'settlement_detail_report') %}
{%- set variant = adyen_variant(notification_relation, report_relation) %}

with

{%- if variant == 'settlement_details' %}

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
        {{ local_time_as_iso_utc_text('creation_date', 'time_zone') }} as created_at,
        {{ local_time_as_iso_utc_text('creation_date', 'time_zone') }} as event_at
    from source
    where lower(trim(type)) in ('{{ adyen_settlement_refund_types() | join("', '") }}')

)

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
        source_row_number,
        source_file,
        psp_reference as processor_refund_id,
        {{ shape_text('adyen') }} as processor,
        original_reference as payment_id,
        merchant_reference as order_id,
        amount_value as amount,
        {{ shape_text('minor') }} as amount_unit,
        amount_currency as currency,
        case
            when upper(trim(event_code)) = 'CANCEL_OR_REFUND' and nullif(modification_action, '') is not null
                then {{ dbt.concat(['upper(trim(event_code))', "':'", "lower(trim(coalesce(success, '')))", "':'", 'modification_action']) }}
            else {{ dbt.concat(['upper(trim(event_code))', "':'", "lower(trim(coalesce(success, '')))"]) }}
        end as status,
        -- Adyen's `reason` is refusal text, not a business reason.
        {{ shape_text(none) }} as reason,
        event_date as created_at,
        event_date as event_at
    from refund_events

)

{%- endif %}

select * from final
