{#- The ERP's period calendar, where an enabled ERP shape provides one
    (netsuite's accountingperiod; the generic format has none): one row per
    accounting period (YYYY-MM) with whether it is closed or locked at
    as_of. A refund whose correct period is locked needs an adjusting entry
    in an open period (variance locked_period_posting). A calendar row is
    rejected (is_accepted false, locks nothing) only when its period cannot
    be read: that is all the reconciliation needs. An unreadable closing date
    is reported in rejection_reason (for fct_rejected_rows) but the row stays
    accepted: a period locked by its flags is still locked, and a closed
    period without a readable date counts as closed, as one without a
    date does. -#}

with

source as (

    -- every enabled ERP shape's calendar (var erp_shapes)
    {{ union_refund_shapes('erp', 'erp_accounting_periods') }}

),

parsed as (

    select
        source_shape,
        source_row_number,
        source_file,
        {{ clean_text('accounting_period') }} as accounting_period,
        {{ clean_text('period_name') }} as period_name,
        coalesce({{ is_true_text('is_closed') }}, false) as is_closed,
        coalesce({{ is_true_text('is_locked') }}, false) as is_locked,
        {{ clean_text('closed_at') }} as closed_at_text,
        {{ parse_timestamp_utc(clean_text('closed_at')) }} as closed_at
    from source

),

validated as (

    select
        *,
        case
            when accounting_period is null or not {{ regex_full_match('accounting_period', '[0-9]{4}-(0[1-9]|1[0-2])') }}
                then 'period start is not a YYYY-MM-DD date'
            when closed_at_text is not null and closed_at is null then 'unparseable timestamp in closed_at'
        end as rejection_reason
    from parsed

),

final as (

    select
        source_shape,
        source_row_number,
        source_file,
        accounting_period,
        period_name,
        is_closed,
        is_locked,
        closed_at,
        case
            when rejection_reason = 'period start is not a YYYY-MM-DD date' then 'accounting_period'
            when rejection_reason is not null then 'closed_at'
        end as rejected_column,
        rejection_reason,
        coalesce(rejection_reason, '') <> 'period start is not a YYYY-MM-DD date' as is_accepted,
        -- Closed at as_of (a period closed after as_of was still open), or locked.
        coalesce(rejection_reason, '') <> 'period start is not a YYYY-MM-DD date'
        and (is_locked or (is_closed and coalesce(closed_at <= {{ as_of_literal() }}, true))) as is_locked_at_as_of
    from validated

)

select * from final
