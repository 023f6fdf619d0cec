{#- NetSuite refund transactions (source-shapes.md) as ERP refund postings.
    A refund is a transaction of a type in var netsuite_refund_transaction_types
    (default CustRfnd and CashRfnd; credit memos are not money movements).
    Its GL account is the account of one of its posting accounting lines: a
    line whose acctnumber is in gl_account_map if there is one, else its
    first debit line (so an unknown account still surfaces as
    unmapped_status); the amount is that line's. The posting period is the
    month of its accountingperiod's start date. The processor refund id is
    the field named by var netsuite_refund_id_field (externalid, otherrefnum
    or a custbody_ field); the reason code and order reference come from the
    fields named by netsuite_reason_code_field and netsuite_order_id_field
    when set. NetSuite's createddate is when the integration delivered the
    refund, so it is both posted_at and received_at. -#}
{{ config(enabled=refund_shape_enabled('erp', 'netsuite')) }}

{%- set refund_id_field = name_var('netsuite_refund_id_field', 'externalid') %}
{%- set reason_field = name_var('netsuite_reason_code_field', 'custbody_refund_reason_code') %}
{%- set order_field = var('netsuite_order_id_field', '') | string | trim | lower %}
{%- set order_field = name_var('netsuite_order_id_field') if order_field else none %}
{%- set refund_types = netsuite_refund_types() %}

with

transactions as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transaction'),
            'netsuite/transaction',
            required=['id', 'type', 'createddate', refund_id_field],
            optional=['postingperiod', 'currency', reason_field] + ([order_field] if order_field else []),
        ) }}
    from {{ source('netsuite', 'transaction') }}

),

lines as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transactionaccountingline'),
            'netsuite/transactionaccountingline',
            required=['transaction', 'account'],
            optional=['amount', 'debit', 'credit', 'posting'],
            aliases={'transaction': 'transaction_id', 'account': 'account_id'},
        ) }}
    from {{ source('netsuite', 'transactionaccountingline') }}

),

accounts as (

    select
        trim(id) as account_id,
        min(trim(acctnumber)) as acctnumber
    from (
        select
            {{ refund_input_columns(source('netsuite', 'account'), 'netsuite/account', required=['id', 'acctnumber'], optional=[]) }}
        from {{ source('netsuite', 'account') }}
    ) as account_rows
    group by trim(id)

),

periods as (

    select
        trim(id) as period_id,
        min(substr(trim(startdate), 1, 7)) as accounting_period
    from (
        select
            {{ refund_input_columns(source('netsuite', 'accountingperiod'), 'netsuite/accountingperiod', required=['id', 'startdate'], optional=[]) }}
        from {{ source('netsuite', 'accountingperiod') }}
    ) as period_rows
    group by trim(id)

),

currencies as (

    select
        trim(id) as currency_id,
        min(trim(symbol)) as symbol
    from (
        select
            {{ refund_input_columns(source('netsuite', 'currency'), 'netsuite/currency', required=['id', 'symbol'], optional=[]) }}
        from {{ source('netsuite', 'currency') }}
    ) as currency_rows
    group by trim(id)

),

gl_accounts as (

    select distinct upper(trim(gl_account)) as gl_account from {{ ref('gl_account_map') }}

),

refund_transactions as (

    select * from transactions
    where lower(trim(type)) in ('{{ refund_types | join("', '") }}')

),

ranked_lines as (

    select
        trim(lines.transaction_id) as transaction_id,
        accounts.acctnumber,
        coalesce(nullif(trim(lines.debit), ''), nullif(trim(lines.credit), ''), replace(trim(lines.amount), '-', '')) as amount,
        row_number() over (
            partition by trim(lines.transaction_id)
            order by
                case when gl_accounts.gl_account is not null then 0 else 1 end,
                case when nullif(trim(lines.debit), '') is not null then 0 else 1 end,
                lines.source_row_number
        ) as line_rank
    from lines
    left join accounts
        on trim(lines.account_id) = accounts.account_id
    left join gl_accounts
        on upper(accounts.acctnumber) = gl_accounts.gl_account
    where coalesce(upper(trim(lines.posting)), 'T') not in ('F', 'FALSE')

),

final as (

    select
        refund_transactions.source_row_number,
        refund_transactions.source_file,
        refund_transactions.id as erp_document_id,
        refund_transactions.{{ refund_id_field }} as processor_refund_id,
        {{ 'refund_transactions.' ~ order_field if order_field else shape_text(none) }} as order_id,
        ranked_lines.acctnumber as gl_account,
        ranked_lines.amount,
        {{ shape_text('major') }} as amount_unit,
        coalesce(currencies.symbol, refund_transactions.currency) as currency,
        refund_transactions.{{ reason_field }} as reason_code,
        {{ shape_text(none) }} as refund_type,
        refund_transactions.createddate as posted_at,
        refund_transactions.createddate as received_at,
        coalesce(periods.accounting_period, refund_transactions.postingperiod) as posting_period
    from refund_transactions
    left join ranked_lines
        on
            trim(refund_transactions.id) = ranked_lines.transaction_id
            and ranked_lines.line_rank = 1
    left join currencies
        on trim(refund_transactions.currency) = currencies.currency_id
    left join periods
        on trim(refund_transactions.postingperiod) = periods.period_id

)

select * from final
