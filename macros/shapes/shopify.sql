{#- The Shopify landing: airbyte when Airbyte's order_refunds is there, else
    Fivetran's GraphQL or REST connector by the transaction table's columns;
    var shopify_variant forces one. -#}
{% macro shopify_variant(order_refunds_relation, transaction_relation) %}
    {%- set forced = var('shopify_variant', 'auto') | string | trim | lower -%}
    {%- if forced == 'airbyte' or (forced in ['auto', ''] and order_refunds_relation is not none) -%}
        {%- if order_refunds_relation is none and execute and not flag_var('refund_recon_lint', false) -%}
            {{ refund_recon_fail("var shopify_variant is airbyte but input 'shopify/order_refunds' was not found") }}
        {%- endif -%}
        {{ return('airbyte') }}
    {%- endif -%}
    {{ return(refund_shape_variant('shopify', transaction_relation, [
        ['fivetran_graphql', ['amount_set_shop_amount']],
        ['fivetran_graphql', ['amount_set_pres_amount']],
        ['fivetran_rest', ['amount']],
    ], default='fivetran_rest')) }}
{% endmacro %}
