{#- The Shopify landing: stitch when Stitch's subtable order_refunds__transactions
    is there (Singer tap-shopify, arrays as subtables), else airbyte when
    Airbyte's order_refunds is there, else Fivetran's GraphQL or REST
    connector by the transaction table's columns; var shopify_variant forces
    one. An order_refunds that Stitch wrote (_sdc_ columns) without the
    subtable is tap-shopify v3 (GraphQL), which links no transaction to its
    refund: a clear error. -#}
{% macro shopify_variant(order_refunds_relation, transaction_relation, stitch_transactions_relation=none) %}
    {%- set forced = var('shopify_variant', 'auto') | string | trim | lower -%}
    {%- set checking = execute and not flag_var('refund_recon_lint', false) -%}
    {%- if forced == 'stitch' or (forced in ['auto', ''] and stitch_transactions_relation is not none) -%}
        {%- if checking and (order_refunds_relation is none or stitch_transactions_relation is none) -%}
            {{ refund_recon_fail("shopify landing is stitch but input '"
                ~ ('shopify/order_refunds' if order_refunds_relation is none else 'shopify/order_refunds__transactions')
                ~ "' was not found: Stitch lands tap-shopify's refunds as order_refunds and their transactions as the subtable order_refunds__transactions") }}
        {%- endif -%}
        {{ return('stitch') }}
    {%- endif -%}
    {%- if forced in ['auto', ''] and order_refunds_relation is not none and checking -%}
        {%- set columns = refund_relation_columns(order_refunds_relation) -%}
        {%- if '_sdc_table_version' in columns or '_sdc_received_at' in columns or '_sdc_batched_at' in columns -%}
            {%- if 'transactions' not in columns -%}
                {{ refund_recon_fail("input 'shopify/order_refunds' was written by Stitch (_sdc_ columns) but its transactions are neither a column nor the subtable order_refunds__transactions: "
                    ~ "tap-shopify v3 (GraphQL) links no transaction to its refund and is not read; land tap-shopify v2 (REST) or another connector (docs/your-data.md, Shopify)") }}
            {%- endif -%}
        {%- endif -%}
    {%- endif -%}
    {%- if forced == 'airbyte' or (forced in ['auto', ''] and order_refunds_relation is not none) -%}
        {%- if order_refunds_relation is none and checking -%}
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
