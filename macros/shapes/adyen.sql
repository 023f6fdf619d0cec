{#- The Adyen landing: webhooks when notifications are there, else the
    Settlement details report; var adyen_variant forces one. -#}
{% macro adyen_variant(notification_relation, report_relation) %}
    {%- set forced = var('adyen_variant', 'auto') | string | trim | lower -%}
    {%- if forced not in ['auto', '', 'webhooks', 'settlement_details'] -%}
        {{ refund_recon_fail("var adyen_variant must be auto, webhooks or settlement_details, got '" ~ forced ~ "'") }}
    {%- endif -%}
    {%- set lint = not execute or flag_var('refund_recon_lint', false) -%}
    {%- if forced == 'settlement_details' or (forced in ['auto', ''] and notification_relation is none and report_relation is not none) -%}
        {%- if report_relation is none and not lint -%}
            {{ refund_recon_fail("input 'adyen/settlement_detail_report' not found (var adyen_variant is settlement_details)") }}
        {%- endif -%}
        {{ return('settlement_details') }}
    {%- endif -%}
    {%- if notification_relation is none and not lint -%}
        {{ refund_recon_fail("input 'adyen/notification' not found: expected webhook notifications or a settlement_detail_report in the adyen schema (data folder adyen/)") }}
    {%- endif -%}
    {{ return('webhooks') }}
{% endmacro %}


{#- The Settlement details record types that are refund events (var
    adyen_settlement_refund_types), validated, lower-cased. -#}
{% macro adyen_settlement_refund_types() %}
    {%- set types = [] -%}
    {%- for name in list_var('adyen_settlement_refund_types',
        ['Refunded', 'RefundedExternally', 'RefundedExternallyWithInfo', 'RefundedBulk', 'RefundedReversed']) -%}
        {%- if not modules.re.match('^[A-Za-z0-9_]{1,40}$', name | string) -%}
            {{ refund_recon_fail("var adyen_settlement_refund_types must list record types such as Refunded, got '" ~ name ~ "'") }}
        {%- endif -%}
        {%- do types.append(name | string | lower) -%}
    {%- endfor -%}
    {{ return(types) }}
{% endmacro %}
