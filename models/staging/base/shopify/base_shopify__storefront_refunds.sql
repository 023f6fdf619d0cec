{#- Shopify refunds (source-shapes.md; docs/connectors.md 1) as storefront
    refund records, read from whichever landing is there, told apart by its
    tables and columns (var shopify_variant forces one):
    - fivetran_graphql: Fivetran's current (GraphQL) connector: transaction
      amounts in amount_set_pres_* / amount_set_shop_*, the gateway's
      reference in authorization_code, refund without processed_at;
    - fivetran_rest: Fivetran's REST-era connector: amount, currency,
      authorization, receipt;
    - airbyte: Airbyte's `order_refunds` stream, the refund transactions
      nested in its `transactions` array (JSON text); the `transactions`
      stream, where present, gives each refund's parent sale.
    - stitch: Singer's tap-shopify (REST era, v1/v2) as Stitch lands it in a
      destination without nested types: `order_refunds` flat, its
      `transactions` array in the subtable `order_refunds__transactions`
      (one row per element, `_sdc_source_key_id` = the refund's id,
      `_sdc_level_0_id` its place), nested objects flattened with `__`
      (receipt__refund_id), times as timestamptz text; the `transactions`
      stream, where present, gives each refund's parent sale. tap-shopify
      v3 (GraphQL) lands no link from a transaction to its refund: refused.
    The grain is the refund transaction (kind = refund): one refund can be
    paid back through several gateways, each its own processor refund, so
    each transaction is reconciled on its own; several refunds per order are
    partial refunds. Test transactions (test = true) are not real money and
    are not refund records. Amounts are the presentment money (what the
    customer paid and the processor moved) where the landing has both. The
    processor refund id is the gateway's reference (`authorization`,
    `authorization_code`), else a key of the gateway's `receipt` JSON (var
    shopify_receipt_refund_id_key, default refund_id, then id). The business
    reason is where Shopify keeps it: the return reason of the refund's
    return (return_line_item.return_reason, Fivetran GraphQL with returns
    synced), else the refund's note; adjustments (order_adjustment) describe
    shipping refunds and discrepancies, not why the customer was refunded,
    and are never read as a reason (so the table is optional). The refund's
    created_at dates the request, the transaction's processed_at its status;
    the scope (partial or full) compares the refund with the sale it refunds
    (parent_id). -#}
{{ config(enabled=refund_shape_enabled('storefront', 'shopify')) }}

{%- set receipt_key = name_var('shopify_receipt_refund_id_key', 'refund_id') %}
{%- set order_refunds_relation = refund_source_relation('shopify', 'order_refunds') %}
{%- set transaction_relation = refund_source_relation('shopify', 'transaction', alternatives=['transactions']) %}
{%- set refund_relation = refund_source_relation('shopify', 'refund') %}
{%- set return_line_relation = refund_source_relation('shopify', 'return_line_item') %}
{%- set stitch_transactions_relation = refund_source_relation('shopify', 'order_refunds__transactions') %}
{%- if order_refunds_relation is none and transaction_relation is none %}
    {{ refund_recon_fail("input 'shopify/transaction' not found: expected Fivetran's " ~ source('shopify', 'transaction') ~ " or Airbyte's order_refunds in the same schema") }}
{%- endif %}
{%- set variant = shopify_variant(order_refunds_relation, transaction_relation, stitch_transactions_relation) %}
{%- set use_returns = variant == 'fivetran_graphql' and return_line_relation is not none and refund_relation is not none %}

with

{%- if variant == 'stitch' %}

order_refunds as (

    select
        {{ refund_input_columns(
            order_refunds_relation,
            'shopify/order_refunds',
            required=['id', 'created_at'],
            optional=['order_id', 'note'],
        ) }}
    from {{ order_refunds_relation }}

),

refund_rows as (

    -- One row per refund id (a re-synced table may hold a refund twice).
    select
        trim(id) as refund_id,
        min(order_id) as order_id,
        min(created_at) as requested_at,
        min(nullif(trim(note), '')) as note
    from order_refunds
    group by trim(id)

),

subtable as (

    select
        {{ refund_input_columns(
            stitch_transactions_relation,
            'shopify/order_refunds__transactions',
            required=['_sdc_source_key_id', 'id', 'kind', 'status', 'amount', 'currency', 'created_at'],
            optional=['order_id', 'parent_id', 'authorization', 'receipt', 'receipt_' ~ receipt_key, 'receipt_id',
                'processed_at', 'test'],
            aliases={'_sdc_source_key_id': 'refund_id', 'authorization': 'gateway_reference', 'test': 'is_test',
                'receipt_' ~ receipt_key: 'receipt_refund_key'},
        ) }}
    from {{ stitch_transactions_relation }}

),

transactions as (

    select
        subtable.source_row_number,
        subtable.source_file,
        subtable.id,
        coalesce(subtable.order_id, refund_rows.order_id) as order_id,
        subtable.refund_id,
        subtable.kind,
        subtable.status,
        subtable.amount,
        subtable.currency,
        subtable.parent_id,
        -- The gateway's reference: authorization, else the receipt's key,
        -- flattened (receipt__refund_id) or, where kept whole, as JSON.
        coalesce(
            nullif(trim(subtable.gateway_reference), ''),
            nullif(trim(subtable.receipt_refund_key), ''),
            {{ json_text('subtable.receipt', receipt_key) }},
            nullif(trim(subtable.receipt_id), ''),
            {{ json_text('subtable.receipt', 'id') }}
        ) as gateway_reference,
        cast(null as {{ dbt.type_string() }}) as receipt,
        subtable.created_at,
        subtable.processed_at,
        subtable.is_test,
        refund_rows.requested_at,
        refund_rows.note
    from subtable
    left join refund_rows
        on trim(subtable.refund_id) = refund_rows.refund_id

),

{%- elif variant == 'airbyte' %}

order_refunds as (

    select
        {{ refund_input_columns(
            order_refunds_relation,
            'shopify/order_refunds',
            required=['id', 'order_id', 'created_at', 'transactions'],
            optional=['note'],
        ) }}
    from {{ connector_current_rows(order_refunds_relation, key=['id']) }}

),

nested_transactions as (

    select
        source_row_number,
        source_file,
        id as refund_id,
        order_id as refund_order_id,
        created_at as requested_at,
        note,
        {{ json_array_elements('transactions') }} as transaction_json
    from order_refunds

),

transactions as (

    -- One order_refunds row holds several transactions: each keeps the
    -- file row it came from, and its place in the array names it apart.
    select
        source_row_number,
        {{ dbt.concat([
            'source_file', "'#transactions['",
            "cast(row_number() over (partition by source_file, source_row_number order by " ~ json_text('transaction_json', 'id') ~ ") as " ~ dbt.type_string() ~ ")",
            "']'",
        ]) }} as source_file,
        {{ json_text('transaction_json', 'id') }} as id,
        coalesce({{ json_text('transaction_json', 'order_id') }}, refund_order_id) as order_id,
        refund_id,
        {{ json_text('transaction_json', 'kind') }} as kind,
        {{ json_text('transaction_json', 'status') }} as status,
        {{ json_text('transaction_json', 'amount') }} as amount,
        {{ json_text('transaction_json', 'currency') }} as currency,
        {{ json_text('transaction_json', 'parent_id') }} as parent_id,
        {{ json_text('transaction_json', 'authorization') }} as gateway_reference,
        {{ json_text('transaction_json', 'receipt') }} as receipt,
        {{ json_text('transaction_json', 'created_at') }} as created_at,
        {{ json_text('transaction_json', 'processed_at') }} as processed_at,
        {{ json_text('transaction_json', 'test') }} as is_test,
        requested_at,
        note
    from nested_transactions

),

{%- endif %}

{%- if variant in ['airbyte', 'stitch'] %}

{%- if transaction_relation is not none %}

parent_rows as (

    select
        {{ refund_input_columns(transaction_relation, 'shopify/transactions', required=['id'], optional=['amount']) }}
    from {{ connector_current_rows(transaction_relation, key=['id']) }}

),
{%- endif %}

parent_amounts as (

    -- What each transaction moved, once per id (a re-synced table may hold it twice).
    select
        trim(id) as transaction_id,
        max(trim(amount)) as amount
    from (
        select
            id,
            amount
        from transactions
        {%- if transaction_relation is not none %}
        union all
        select
            id,
            amount
        from parent_rows
        {%- endif %}
    ) as moved
    group by trim(id)

),

refund_requests as (

    select
        trim(refund_id) as refund_id,
        min(requested_at) as requested_at
    from transactions
    group by trim(refund_id)

),

refund_reasons as (

    select
        trim(refund_id) as refund_id,
        min(nullif(trim(note), '')) as reason
    from transactions
    group by trim(refund_id)

),

{%- else %}

transactions as (

    select
        {{ refund_input_columns(
            transaction_relation,
            'shopify/transaction',
            required=['id', 'order_id', 'kind', 'status', 'created_at']
                + (['amount_set_shop_amount', 'amount_set_shop_currency_code'] if variant == 'fivetran_graphql' else ['amount', 'currency']),
            optional=['refund_id', 'parent_id', 'authorization', 'authorization_code', 'receipt', 'receipt_json', 'gateway',
                'processed_at', 'test', 'amount_set_pres_amount', 'amount_set_pres_currency_code']
                + (['amount', 'currency'] if variant == 'fivetran_graphql' else []),
            aliases={'authorization': 'gateway_reference', 'test': 'is_test'},
        ) }}
    from {{ connector_current_rows(transaction_relation, key=['id']) }}

),

{%- if refund_relation is not none %}

refunds as (

    select
        {{ refund_input_columns(
            refund_relation,
            'shopify/refund',
            required=['id', 'created_at'],
            optional=['order_id', 'note', 'return_id'],
        ) }}
    from {{ connector_current_rows(refund_relation, key=['id']) }}

),
{%- endif %}

{%- if use_returns %}

return_lines as (

    select
        {{ refund_input_columns(
            return_line_relation,
            'shopify/return_line_item',
            required=['return_id', 'return_reason'],
            optional=['id'],
        ) }}
    from {{ connector_current_rows(return_line_relation, key=['id']) }}

),

return_reasons as (

    -- The reason of the return's first line that gives one (by line id).
    select
        trim(return_id) as return_id,
        min(nullif(trim(return_reason), '')) as return_reason
    from return_lines
    group by trim(return_id)

),
{%- endif %}

parent_amounts as (

    -- What each transaction moved, once per id (a re-synced table may hold it twice).
    select
        trim(id) as transaction_id,
        {%- if variant == 'fivetran_graphql' %}
        max(trim(coalesce(amount_set_pres_amount, amount_set_shop_amount))) as amount
        {%- else %}
        max(trim(amount)) as amount
        {%- endif %}
    from transactions
    group by trim(id)

),

refund_requests as (

    -- One row per refund id (a re-synced table may hold a refund twice).
    {%- if refund_relation is not none %}
    select
        trim(id) as refund_id,
        min(created_at) as requested_at
    from refunds
    group by trim(id)
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as refund_id,
        cast(null as {{ dbt.type_string() }}) as requested_at
    where 1 = 0
    {%- endif %}

),

refund_reasons as (

    {%- if refund_relation is not none %}
    select
        trim(refunds.id) as refund_id,
        {%- if use_returns %}
        coalesce(min(return_reasons.return_reason), min(nullif(trim(refunds.note), ''))) as reason
        {%- else %}
        min(nullif(trim(refunds.note), '')) as reason
        {%- endif %}
    from refunds
    {%- if use_returns %}
    left join return_reasons
        on trim(refunds.return_id) = return_reasons.return_id
    {%- endif %}
    group by trim(refunds.id)
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}) as refund_id,
        cast(null as {{ dbt.type_string() }}) as reason
    where 1 = 0
    {%- endif %}

),

{%- endif %}

refund_transactions as (

    select
        transactions.source_row_number,
        transactions.source_file,
        transactions.id,
        transactions.order_id,
        transactions.refund_id,
        transactions.status,
        transactions.created_at,
        transactions.processed_at,
        {%- if variant == 'fivetran_graphql' %}
        coalesce(transactions.amount_set_pres_amount, transactions.amount_set_shop_amount) as amount,
        case
            when transactions.amount_set_pres_amount is not null then transactions.amount_set_pres_currency_code
            else transactions.amount_set_shop_currency_code
        end as currency,
        coalesce(
            nullif(trim(transactions.authorization_code), ''),
            nullif(trim(transactions.gateway_reference), ''),
            {{ json_text('transactions.receipt_json', receipt_key) }},
            {{ json_text('transactions.receipt_json', 'id') }}
        ) as processor_refund_id,
        {%- else %}
        transactions.amount,
        transactions.currency,
        coalesce(
            nullif(trim(transactions.gateway_reference), ''),
            {{ json_text('transactions.receipt', receipt_key) }},
            {{ json_text('transactions.receipt', 'id') }}
        ) as processor_refund_id,
        {%- endif %}
        -- Scope, as the storefront sees it: less than the sale or capture it
        -- refunds is partial, all of it is full; unknown without the parent.
        parents.amount as parent_amount
    from transactions
    left join parent_amounts as parents
        on trim(transactions.parent_id) = parents.transaction_id
    where
        lower(trim(transactions.kind)) = 'refund'
        and coalesce(lower(trim(transactions.is_test)), 'false') not in ('true', 't', '1', 'yes')

),

final as (

    select
        refund_transactions.source_row_number,
        refund_transactions.source_file,
        refund_transactions.id as storefront_refund_id,
        refund_transactions.order_id,
        refund_transactions.processor_refund_id,
        refund_transactions.amount,
        {{ shape_text('major') }} as amount_unit,
        refund_transactions.currency,
        case
            when {{ amount_text_is_decimal('trim(refund_transactions.amount)') }} and {{ amount_text_is_decimal('refund_transactions.parent_amount') }}
                then case
                    when cast(trim(refund_transactions.amount) as decimal(38, 9)) < cast(refund_transactions.parent_amount as decimal(38, 9))
                        then 'partial'
                    else 'full'
                end
        end as refund_type,
        refund_reasons.reason,
        refund_transactions.status,
        coalesce(refund_requests.requested_at, refund_transactions.created_at) as created_at,
        coalesce(refund_transactions.processed_at, refund_transactions.created_at) as updated_at,
        {{ shape_text(none) }} as channel,
        {{ shape_text('shopify') }} as storefront
    from refund_transactions
    left join refund_requests
        on trim(refund_transactions.refund_id) = refund_requests.refund_id
    left join refund_reasons
        on trim(refund_transactions.refund_id) = refund_reasons.refund_id

)

select * from final
