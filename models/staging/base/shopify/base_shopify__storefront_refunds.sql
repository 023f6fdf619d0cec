{#- Shopify refunds (source-shapes.md) as storefront refund records. The
    grain is the refund transaction (transaction.kind = refund): one refund
    can be paid back through several gateways, each its own processor refund,
    so each transaction is reconciled on its own; several refunds per order
    are partial refunds. Test transactions (test = true) are not real money
    and are not refund records. The processor refund id is the gateway's
    reference in `authorization`, else a key of the gateway's `receipt` JSON
    (var shopify_receipt_refund_id_key, default refund_id, then id). The
    refund's request time and reason come from `refund` and
    `order_adjustment`; the transaction's processed_at dates its status; the
    scope (partial or full) compares the refund with the sale it refunds
    (parent_id). -#}
{{ config(enabled=refund_shape_enabled('storefront', 'shopify')) }}

{%- set receipt_key = name_var('shopify_receipt_refund_id_key', 'refund_id') %}

with

transactions as (

    select
        {{ refund_input_columns(
            source('shopify', 'transaction'),
            'shopify/transaction',
            required=['id', 'order_id', 'kind', 'status', 'amount', 'currency', 'created_at'],
            optional=['refund_id', 'parent_id', 'authorization', 'receipt', 'gateway', 'processed_at', 'test'],
            aliases={'authorization': 'gateway_reference', 'test': 'is_test'},
        ) }}
    from {{ source('shopify', 'transaction') }}

),

refunds as (

    select
        {{ refund_input_columns(
            source('shopify', 'refund'),
            'shopify/refund',
            required=['id', 'created_at'],
            optional=['order_id', 'processed_at'],
        ) }}
    from {{ source('shopify', 'refund') }}

),

adjustments as (

    select
        {{ refund_input_columns(
            source('shopify', 'order_adjustment'),
            'shopify/order_adjustment',
            required=['id', 'refund_id'],
            optional=['reason', 'kind'],
        ) }}
    from {{ source('shopify', 'order_adjustment') }}

),

refund_requests as (

    -- One row per refund id (a re-synced table may hold a refund twice).
    select
        trim(id) as refund_id,
        min(created_at) as requested_at
    from refunds
    group by trim(id)

),

reasoned_adjustments as (

    select
        trim(refund_id) as refund_id,
        trim(reason) as reason,
        row_number() over (partition by trim(refund_id) order by source_row_number) as reason_rank
    from adjustments
    where nullif(trim(reason), '') is not null

),

refund_reasons as (

    -- The reason of the refund's first adjustment (in table order) that gives one.
    select
        refund_id,
        reason
    from reasoned_adjustments
    where reason_rank = 1

),

parent_amounts as (

    -- What each transaction moved, once per id (a re-synced table may hold it twice).
    select
        trim(id) as transaction_id,
        max(trim(amount)) as amount
    from transactions
    group by trim(id)

),

refund_transactions as (

    select
        transactions.*,
        -- Scope, as the storefront sees it: less than the sale or capture it
        -- refunds is partial, all of it is full; unknown without the parent.
        case
            when {{ amount_text_is_decimal('trim(transactions.amount)') }} and {{ amount_text_is_decimal('parents.amount') }}
                then case
                    when cast(trim(transactions.amount) as decimal(38, 9)) < cast(parents.amount as decimal(38, 9))
                        then 'partial'
                    else 'full'
                end
        end as refund_type
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
        coalesce(
            nullif(trim(refund_transactions.gateway_reference), ''),
            {{ json_text('refund_transactions.receipt', receipt_key) }},
            {{ json_text('refund_transactions.receipt', 'id') }}
        ) as processor_refund_id,
        refund_transactions.amount,
        {{ shape_text('major') }} as amount_unit,
        refund_transactions.currency,
        refund_transactions.refund_type,
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
