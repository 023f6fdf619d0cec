{#- NetSuite refund transactions (source-shapes.md; NetSuite2 as Fivetran
    lands it, docs/connectors.md 5) as ERP refund postings.
    A refund is a transaction of a type in var netsuite_refund_transaction_types
    (default CustRfnd and CashRfnd; credit memos are not money movements)
    that is live: not deleted in NetSuite (`_fivetran_deleted`), the active
    version when Fivetran's history mode keeps several (`_fivetran_active`),
    and not voided (status in var netsuite_voided_statuses, default V).
    Its GL line is one of its posting accounting lines of the primary
    accounting book (accountingbook.isprimary; without that table, book 1 or
    none), not deleted, chosen by what the account is, never by line order:
    first an account that gl_account_map knows (other than A/R), then an
    account whose type is in var netsuite_refund_line_account_types (default
    Bank: a customer refund debits A/R and credits the bank, and the money
    leaves through the bank line), then any line but A/R. The GL account is
    the account's number (acctnumber) when gl_account_map knows it, else its
    internal id, else its name (fullname), whichever the map knows, else the
    number or, with account numbering off (NetSuite's default), the internal
    id, so an account nobody mapped still surfaces as unmapped_status. The
    amount is that line's. The posting period is the month of its
    accountingperiod's start date. The processor refund id is the field
    named by var netsuite_refund_id_field (default memo, a column of
    Fivetran's transaction table; externalid, otherrefnum or a custbody_
    pass-through field where you keep it); the reason code and order
    reference come from the fields named by netsuite_reason_code_field and
    netsuite_order_id_field when set. NetSuite's createddate is when the
    integration delivered the refund, so it is both posted_at and
    received_at. Fivetran writes timestamps with a one-digit hour
    (`2025-07-03 0:00:00`): they are read as such. -#}
{{ config(enabled=refund_shape_enabled('erp', 'netsuite')) }}

{%- set refund_id_field = name_var('netsuite_refund_id_field', 'memo') %}
{%- set reason_field = name_var('netsuite_reason_code_field', 'custbody_refund_reason_code') %}
{%- set order_field = var('netsuite_order_id_field', '') | string | trim | lower %}
{%- set order_field = name_var('netsuite_order_id_field') if order_field else none %}
{%- set refund_types = netsuite_refund_types() %}
{%- set voided_statuses = netsuite_name_list('netsuite_voided_statuses', list_var('netsuite_voided_statuses', ['V'])) %}
{%- set line_account_types = netsuite_name_list('netsuite_refund_line_account_types', list_var('netsuite_refund_line_account_types', ['Bank'])) %}
{%- set book_relation = refund_source_relation('netsuite', 'accountingbook') %}

with

transactions as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transaction'),
            'netsuite/transaction',
            required=['id', 'type', 'createddate', refund_id_field],
            optional=['postingperiod', 'currency', 'status', '_fivetran_deleted', '_fivetran_active', reason_field]
                + ([order_field] if order_field else []),
        ) }}
    from {{ source('netsuite', 'transaction') }}

),

lines as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transactionaccountingline'),
            'netsuite/transactionaccountingline',
            required=['transaction', 'account'],
            optional=['transactionline', 'amount', 'debit', 'credit', 'posting', 'accountingbook', '_fivetran_deleted'],
            aliases={'transaction': 'transaction_id', 'account': 'account_id'},
        ) }}
    from {{ source('netsuite', 'transactionaccountingline') }}

),

account_rows as (

    select
        {{ refund_input_columns(
            source('netsuite', 'account'),
            'netsuite/account',
            required=['id'],
            optional=['acctnumber', 'fullname', 'accttype', '_fivetran_deleted'],
        ) }}
    from {{ source('netsuite', 'account') }}

),

accounts as (

    select
        trim(id) as account_id,
        min(nullif(trim(acctnumber), '')) as acctnumber,
        min(nullif(trim(fullname), '')) as fullname,
        min(lower(trim(accttype))) as accttype
    from account_rows
    where not coalesce({{ is_true_text('_fivetran_deleted') }}, false)
    group by trim(id)

),

{%- if book_relation is none %}

primary_books as (

    -- No accountingbook table: NetSuite's primary book is book 1.
    select '1' as book_id

),
{%- else %}

book_rows as (

    select
        {{ refund_input_columns(book_relation, 'netsuite/accountingbook', required=['id', 'isprimary'], optional=['_fivetran_deleted']) }}
    from {{ book_relation }}

),

primary_books as (

    select distinct trim(id) as book_id
    from book_rows
    where
        coalesce({{ is_true_text('isprimary') }}, false)
        and not coalesce({{ is_true_text('_fivetran_deleted') }}, false)

),
{%- endif %}

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
    where
        lower(trim(type)) in ('{{ refund_types | join("', '") }}')
        and not coalesce({{ is_true_text('_fivetran_deleted') }}, false)
        and not coalesce({{ is_false_text('_fivetran_active') }}, false)
        and coalesce(lower(trim(status)), '') not in ('{{ voided_statuses | join("', '") }}')

),

live_lines as (

    select lines.*
    from lines
    left join primary_books
        on trim(lines.accountingbook) = primary_books.book_id
    where
        coalesce(upper(trim(lines.posting)), 'T') not in ('F', 'FALSE')
        and not coalesce({{ is_true_text('lines._fivetran_deleted') }}, false)
        -- Lines without a book are single-book accounts: the primary book.
        and (primary_books.book_id is not null or nullif(trim(lines.accountingbook), '') is null)

),

mapped_lines as (

    select
        trim(live_lines.transaction_id) as transaction_id,
        live_lines.transactionline,
        live_lines.source_row_number,
        accounts.accttype,
        case
            when by_number.gl_account is not null then accounts.acctnumber
            when by_id.gl_account is not null then accounts.account_id
            when by_name.gl_account is not null then accounts.fullname
            else coalesce(accounts.acctnumber, accounts.account_id)
        end as gl_account,
        coalesce(by_number.gl_account, by_id.gl_account, by_name.gl_account) is not null as is_mapped,
        coalesce(
            nullif(trim(live_lines.debit), ''), nullif(trim(live_lines.credit), ''), replace(trim(live_lines.amount), '-', '')
        ) as amount
    from live_lines
    left join accounts
        on trim(live_lines.account_id) = accounts.account_id
    left join gl_accounts as by_number
        on upper(accounts.acctnumber) = by_number.gl_account
    left join gl_accounts as by_id
        on upper(accounts.account_id) = by_id.gl_account
    left join gl_accounts as by_name
        on upper(accounts.fullname) = by_name.gl_account

),

ranked_lines as (

    select
        *,
        row_number() over (
            partition by transaction_id
            order by
                case
                    when is_mapped and coalesce(accttype, '') <> 'acctrec' then 0
                    when accttype in ('{{ line_account_types | join("', '") }}') then 1
                    when coalesce(accttype, '') <> 'acctrec' then 2
                    else 3
                end,
                {{ safe_cast_bigint('transactionline') }},
                source_row_number
        ) as line_rank
    from mapped_lines

),

final as (

    select
        refund_transactions.source_row_number,
        refund_transactions.source_file,
        refund_transactions.id as erp_document_id,
        refund_transactions.{{ refund_id_field }} as processor_refund_id,
        {{ 'refund_transactions.' ~ order_field if order_field else shape_text(none) }} as order_id,
        ranked_lines.gl_account,
        ranked_lines.amount,
        {{ shape_text('major') }} as amount_unit,
        coalesce(currencies.symbol, refund_transactions.currency) as currency,
        refund_transactions.{{ reason_field }} as reason_code,
        {{ shape_text(none) }} as refund_type,
        {{ netsuite_timestamp_text('refund_transactions.createddate') }} as posted_at,
        {{ netsuite_timestamp_text('refund_transactions.createddate') }} as received_at,
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
