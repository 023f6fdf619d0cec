{#- NetSuite refund transactions (source-shapes.md; NetSuite2 as Fivetran
    lands it, docs/connectors.md 5) as ERP refund postings.
    A refund is a transaction of a type in var netsuite_refund_transaction_types
    (default CustRfnd and CashRfnd; credit memos are not money movements)
    that is live, and not voided (status in var netsuite_voided_statuses,
    default V). Every table is read through connector_current_rows: soft
    deletes are skipped and, with Fivetran's history mode, only the active
    version of a row is read.
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
    id, so an account nobody mapped still surfaces as unmapped_status.
    Amounts are in the transaction's currency (transaction.currency): the
    line's foreignamount (transactionline), else the accounting line's
    amount when it is already in that currency (the subsidiary's base
    currency, subsidiary.currency, is the same, or unknown with no exchange
    rate), else that amount divided by the accounting line's exchangerate
    only where the quotient is exact at the currency's exponent; an inexact
    quotient, or a foreign currency with no rate, is rejected with its
    reason (amount_check), never rounded. The accounting line's amount
    (base currency) and the base currency are kept as base_amount and
    base_currency. The posting period is the month of its
    accountingperiod's start date. The processor refund id is the field
    named by var netsuite_refund_id_field (default memo, a column of
    Fivetran's transaction table; externalid, otherrefnum or a custbody_
    pass-through field where you keep it); the reason code and order
    reference come from the fields named by netsuite_reason_code_field and
    netsuite_order_id_field when set. A refund transaction with isreversal
    set that another refund transaction names in its `reversal` field
    reverses that one (reverses_document_id). NetSuite's createddate is when the
    integration delivered the refund, so it is both posted_at and
    received_at. Fivetran writes timestamps with a one-digit hour
    (`2025-07-03 0:00:00`): they are read as such. -#}
{{ config(enabled=refund_shape_enabled('erp', 'netsuite')) }}

{%- set refund_id_field = name_var('netsuite_refund_id_field', 'memo') %}
{%- set reason_field = name_var('netsuite_reason_code_field', 'custbody_refund_reason_code') %}
{%- set order_field = var('netsuite_order_id_field', '') | string | trim | lower %}
{%- set order_field = name_var('netsuite_order_id_field') if order_field else none %}
{%- set refund_types = netsuite_refund_types() %}
{%- set voided_statuses = netsuite_name_list_var('netsuite_voided_statuses', ['V']) %}
{%- set line_account_types = netsuite_name_list_var('netsuite_refund_line_account_types', ['Bank']) %}
{%- set book_relation = refund_source_relation('netsuite', 'accountingbook') %}
{%- set line_relation = refund_source_relation('netsuite', 'transactionline') %}
{%- set subsidiary_relation = refund_source_relation('netsuite', 'subsidiary') %}

with

transactions as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transaction'),
            'netsuite/transaction',
            required=['id', 'type', 'createddate', refund_id_field],
            optional=['postingperiod', 'currency', 'status', 'isreversal', 'reversal', reason_field]
                + ([order_field] if order_field else []),
        ) }}
    from {{ connector_current_rows(source('netsuite', 'transaction'), key=['id']) }}

),

lines as (

    select
        {{ refund_input_columns(
            source('netsuite', 'transactionaccountingline'),
            'netsuite/transactionaccountingline',
            required=['transaction', 'account'],
            optional=['transactionline', 'amount', 'debit', 'credit', 'posting', 'accountingbook', 'exchangerate'],
            aliases={'transaction': 'transaction_id', 'account': 'account_id'},
        ) }}
    from {{ connector_current_rows(source('netsuite', 'transactionaccountingline'), key=['transaction', 'transactionline', 'accountingbook']) }}

),

account_rows as (

    select
        {{ refund_input_columns(
            source('netsuite', 'account'),
            'netsuite/account',
            required=['id'],
            optional=['acctnumber', 'fullname', 'accttype'],
        ) }}
    from {{ connector_current_rows(source('netsuite', 'account'), key=['id']) }}

),

accounts as (

    select
        trim(id) as account_id,
        min(nullif(trim(acctnumber), '')) as acctnumber,
        min(nullif(trim(fullname), '')) as fullname,
        min(lower(trim(accttype))) as accttype
    from account_rows
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
        {{ refund_input_columns(book_relation, 'netsuite/accountingbook', required=['id', 'isprimary'], optional=[]) }}
    from {{ connector_current_rows(book_relation, key=['id']) }}

),

primary_books as (

    select distinct trim(id) as book_id
    from book_rows
    where coalesce({{ is_true_text('isprimary') }}, false)

),
{%- endif %}

periods as (

    select
        trim(id) as period_id,
        min(substr(trim(startdate), 1, 7)) as accounting_period
    from (
        select
            {{ refund_input_columns(source('netsuite', 'accountingperiod'), 'netsuite/accountingperiod', required=['id', 'startdate'], optional=[]) }}
        from {{ connector_current_rows(source('netsuite', 'accountingperiod'), key=['id']) }}
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
        from {{ connector_current_rows(source('netsuite', 'currency'), key=['id']) }}
    ) as currency_rows
    group by trim(id)

),

iso_currencies as (

    select * from {{ ref('currencies') }}

),
{%- if line_relation is none %}

transaction_lines as (

    -- No transactionline table: no transaction-currency amounts, no subsidiary.
    select
        cast(null as {{ dbt.type_string() }}) as transaction_id,
        cast(null as {{ dbt.type_string() }}) as line_id,
        cast(null as {{ dbt.type_string() }}) as foreignamount,
        cast(null as {{ dbt.type_string() }}) as subsidiary,
        cast(null as {{ dbt.type_string() }}) as mainline
    where 1 = 0

),
{%- else %}

transaction_lines as (

    select
        {{ refund_input_columns(
            line_relation,
            'netsuite/transactionline',
            required=['transaction', 'id'],
            optional=['foreignamount', 'subsidiary', 'mainline'],
            aliases={'transaction': 'transaction_id', 'id': 'line_id'},
        ) }}
    from {{ connector_current_rows(line_relation, key=['transaction', 'id']) }}

),
{%- endif %}

foreign_amounts as (

    select
        trim(transaction_id) as transaction_id,
        trim(line_id) as line_id,
        min(replace(nullif(trim(foreignamount), ''), '-', '')) as foreign_amount
    from transaction_lines
    group by trim(transaction_id), trim(line_id)

),

transaction_subsidiaries as (

    -- The subsidiary of the main line, else of any line.
    select
        trim(transaction_id) as transaction_id,
        coalesce(
            min(case when {{ is_true_text('mainline') }} then nullif(trim(subsidiary), '') end),
            min(nullif(trim(subsidiary), ''))
        ) as subsidiary_id
    from transaction_lines
    group by trim(transaction_id)

),
{%- if subsidiary_relation is none %}

subsidiaries as (

    -- No subsidiary table: the base currency is unknown.
    select
        cast(null as {{ dbt.type_string() }}) as subsidiary_id,
        cast(null as {{ dbt.type_string() }}) as currency_id
    where 1 = 0

),
{%- else %}

subsidiaries as (

    select
        trim(id) as subsidiary_id,
        min(trim(currency)) as currency_id
    from (
        select
            {{ refund_input_columns(subsidiary_relation, 'netsuite/subsidiary', required=['id', 'currency'], optional=[]) }}
        from {{ connector_current_rows(subsidiary_relation, key=['id']) }}
    ) as subsidiary_rows
    group by trim(id)

),
{%- endif %}

gl_accounts as (

    select distinct upper(trim(gl_account)) as gl_account from {{ ref('gl_account_map') }}

),

refund_transactions as (

    select * from transactions
    where
        lower(trim(type)) in ('{{ refund_types | join("', '") }}')
        and coalesce(lower(trim(status)), '') not in ('{{ voided_statuses | join("', '") }}')

),

reversal_links as (

    -- NetSuite's reversal link: the reversed transaction names its reversing
    -- transaction in `reversal`, and that one has isreversal set. Between two
    -- refund transactions, the reversing one gets the other's id as
    -- reverses_document_id.
    select
        trim(reversing.id) as reversing_id,
        min(trim(reversed.id)) as reversed_id
    from refund_transactions as reversing
    inner join refund_transactions as reversed
        on trim(reversing.id) = trim(reversed.reversal)
    where coalesce({{ is_true_text('reversing.isreversal') }}, false)
    group by trim(reversing.id)

),

live_lines as (

    select lines.*
    from lines
    left join primary_books
        on trim(lines.accountingbook) = primary_books.book_id
    where
        coalesce(upper(trim(lines.posting)), 'T') not in ('F', 'FALSE')
        -- Lines without a book are single-book accounts: the primary book.
        and (primary_books.book_id is not null or nullif(trim(lines.accountingbook), '') is null)

),

mapped_lines as (

    select
        trim(live_lines.transaction_id) as transaction_id,
        trim(live_lines.transactionline) as transactionline,
        nullif(trim(live_lines.exchangerate), '') as exchangerate,
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

amounts as (

    select
        refund_transactions.*,
        ranked_lines.gl_account,
        ranked_lines.amount as base_amount,
        ranked_lines.exchangerate,
        coalesce(currencies.symbol, refund_transactions.currency) as currency_code,
        base_currencies.symbol as base_currency,
        foreign_amounts.foreign_amount,
        iso_currencies.minor_units,
        upper(trim(base_currencies.symbol)) = upper(trim(coalesce(currencies.symbol, refund_transactions.currency))) as is_base_currency,
        coalesce({{ regex_full_match('ranked_lines.exchangerate', '0*1([.]0*)?') }}, false) as is_rate_one,
        -- A rate and amount the exact division reads without rounding them.
        coalesce({{ regex_full_match('ranked_lines.exchangerate', '[0-9]{1,7}([.][0-9]{1,10})?') }}, false)
        and coalesce({{ regex_full_match('ranked_lines.amount', '[0-9]{1,15}([.][0-9]{1,6})?') }}, false) as has_rate
    from refund_transactions
    left join ranked_lines
        on
            trim(refund_transactions.id) = ranked_lines.transaction_id
            and ranked_lines.line_rank = 1
    left join foreign_amounts
        on
            ranked_lines.transaction_id = foreign_amounts.transaction_id
            and ranked_lines.transactionline = foreign_amounts.line_id
    left join currencies
        on trim(refund_transactions.currency) = currencies.currency_id
    left join transaction_subsidiaries
        on trim(refund_transactions.id) = transaction_subsidiaries.transaction_id
    left join subsidiaries
        on transaction_subsidiaries.subsidiary_id = subsidiaries.subsidiary_id
    left join currencies as base_currencies
        on subsidiaries.currency_id = base_currencies.currency_id
    left join iso_currencies
        on upper(trim(coalesce(currencies.symbol, refund_transactions.currency))) = iso_currencies.currency

),

converted as (

    select
        *,
        case
            when foreign_amount is not null then foreign_amount
            -- Already in the transaction currency: as written, for staging to judge.
            when coalesce(is_base_currency, false) or is_rate_one then base_amount
            when has_rate and minor_units is not null
                then {{ netsuite_exact_quotient_text('base_amount', 'exchangerate', 'minor_units') }}
            -- Nothing says the line is in another currency: one-currency books.
            when base_currency is null and not has_rate then base_amount
        end as transaction_amount
    from amounts

),

final as (

    select
        converted.source_row_number,
        converted.source_file,
        converted.id as erp_document_id,
        converted.{{ refund_id_field }} as processor_refund_id,
        {{ 'converted.' ~ order_field if order_field else shape_text(none) }} as order_id,
        converted.gl_account,
        converted.transaction_amount as amount,
        {{ shape_text('major') }} as amount_unit,
        converted.currency_code as currency,
        converted.{{ reason_field }} as reason_code,
        {{ shape_text(none) }} as refund_type,
        {{ netsuite_timestamp_text('converted.createddate') }} as posted_at,
        {{ netsuite_timestamp_text('converted.createddate') }} as received_at,
        coalesce(periods.accounting_period, converted.postingperiod) as posting_period,
        reversal_links.reversed_id as reverses_document_id,
        converted.base_amount,
        converted.base_currency,
        case
            when converted.transaction_amount is not null or converted.base_amount is null or converted.minor_units is null then {{ shape_text(none) }}
            when converted.has_rate then {{ shape_text('inexact_conversion') }}
            else {{ shape_text('no_transaction_currency_amount') }}
        end as amount_check
    from converted
    left join periods
        on trim(converted.postingperiod) = periods.period_id
    left join reversal_links
        on trim(converted.id) = reversal_links.reversing_id

)

select * from final
