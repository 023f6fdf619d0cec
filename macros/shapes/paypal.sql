{#- The PayPal Transaction Search event codes that are refunds (var
    paypal_refund_event_codes, default T1107: payment refund initiated by the
    merchant), validated, upper-cased. -#}
{% macro paypal_refund_event_codes() %}
    {%- set codes = [] -%}
    {%- for code in list_var('paypal_refund_event_codes', ['T1107']) -%}
        {%- if not modules.re.match('^[A-Za-z0-9]{1,10}$', code | string) -%}
            {{ refund_recon_fail("var paypal_refund_event_codes must list event codes such as T1107, got '" ~ code ~ "'") }}
        {%- endif -%}
        {%- do codes.append(code | string | upper) -%}
    {%- endfor -%}
    {{ return(codes) }}
{% endmacro %}
