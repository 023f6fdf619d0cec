{#- NetSuite's period calendar (accountingperiod) in the shape contract: one
    row per monthly posting period, named by the month of its start date,
    with its closed flag and date and whether it is locked for A/R (where
    refunds post) or for everything. Quarters, years and adjustment periods
    are not posting months and are left out. Soft-deleted rows are skipped
    and, in Fivetran's history mode, only a period's active version is read
    (a reopened period is open). Fivetran writes dates with a
    one-digit hour (`2025-07-02 0:00:00`): read as such. -#}
{{ config(enabled=refund_shape_enabled('erp', 'netsuite')) }}

with

source as (

    select
        {{ refund_input_columns(
            source('netsuite', 'accountingperiod'),
            'netsuite/accountingperiod',
            required=['id', 'startdate'],
            optional=['periodname', 'closed', 'closedondate', 'alllocked', 'arlocked', 'isposting', 'isadjust', 'isquarter', 'isyear'],
        ) }}
    from {{ connector_current_rows(source('netsuite', 'accountingperiod'), key=['id']) }}

),

final as (

    select
        source_row_number,
        source_file,
        substr(trim(startdate), 1, 7) as accounting_period,
        periodname as period_name,
        closed as is_closed,
        case
            when {{ is_true_text('alllocked') }} or {{ is_true_text('arlocked') }} then 'true'
            else 'false'
        end as is_locked,
        {{ netsuite_timestamp_text('closedondate') }} as closed_at
    from source
    where
        not coalesce({{ is_false_text('isposting') }}, false)
        and not coalesce({{ is_true_text('isadjust') }}, false)
        and not coalesce({{ is_true_text('isquarter') }}, false)
        and not coalesce({{ is_true_text('isyear') }}, false)

)

select * from final
