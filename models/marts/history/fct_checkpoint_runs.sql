{#- One row per completed checkpoint: what each system delivered, how fresh
    it is, the open, new and resolved variances, and the outcome with the
    rules that decided it (README "Outcomes"):

      stale_sources    a source delivered no rows, nothing newer than the
                       freshness window, or nothing new since the previous
                       checkpoint (fct_checkpoint_sources states the rule:
                       a file with new content, or on a warehouse more
                       distinct rows or a newer record);
      variances_found  otherwise, any open variance not acknowledged (an
                       active row of variance_acknowledgements) or any
                       rejected input row
                       (every row of fct_rejected_rows: the period calendar's
                       too, since a calendar row that cannot be placed can hide
                       a locked-period posting);
      clean            otherwise: zero unacknowledged variances, zero
                       rejected rows, every source fresh. Rejected rows and
                       stale sources cannot be acknowledged.

    Incremental and never fully refreshed: it is the record. The runner builds
    in a copy of the database and swaps it in only when the whole build passed,
    so a failed checkpoint never lands here and is never the "previous
    checkpoint" (the runner logs it in checkpoint_attempts). -#}

{{ config(pre_hook="{{ replace_current_checkpoint('as_of') }}", **checkpoint_history_config('as_of')) }}


with

calendar_rows as (

    select * from {{ ref('int_input_rows') }}
    where input_name = 'erp_accounting_periods'

),

calendar_rejections as (

    -- the calendar rows fct_rejected_rows lists
    select count(*) as rows_rejected from calendar_rows
    where is_rejected

),

reconciliation as (

    select * from {{ ref('rpt_refund_reconciliation') }}

),

history as (

    select * from {{ ref('fct_variance_history') }}
    where checkpoint_as_of = {{ as_of_literal() }}

),

sources as (

    -- per system: rows read and rejected, newest record, stale or not (the rule)
    select * from {{ ref('fct_checkpoint_sources') }}
    where checkpoint_as_of = {{ as_of_literal() }}

),

totals_by_currency as (

    select
        currency,
        max(minor_units) as minor_units,
        sum(storefront_refund_total) as storefront_total,
        sum(processor_refund_total) as processor_total,
        sum(erp_refund_total) as erp_total
    from reconciliation
    group by currency

),

totals as (

    -- 'EUR 12.50; JPY 37224; USD 9.00': each total at its currency's exponent.
    select
        {{ dbt.listagg("currency || ' ' || " ~ major_to_text('storefront_total', 'minor_units'), "'; '", 'order by currency') }}
            as storefront_totals,
        {{ dbt.listagg("currency || ' ' || " ~ major_to_text('processor_total', 'minor_units'), "'; '", 'order by currency') }}
            as processor_totals,
        {{ dbt.listagg("currency || ' ' || " ~ major_to_text('erp_total', 'minor_units'), "'; '", 'order by currency') }}
            as erp_totals
    from totals_by_currency

),

variance_counts as (

    select
        sum(case when state = 'open' then 1 else 0 end) as open_variance_count,
        sum(case when state = 'open' and first_detected_at = checkpoint_as_of then 1 else 0 end) as new_variance_count,
        sum(case when state = 'resolved' then 1 else 0 end) as resolved_variance_count,
        -- open, and accepted by an active acknowledgement: not counted against clean
        sum(case when state = 'open' and acknowledgement_state = 'active' then 1 else 0 end)
            as acknowledged_variance_count,
        sum(case when state = 'open' and coalesce(acknowledgement_state, '') <> 'active' then 1 else 0 end)
            as unacknowledged_variance_count
    from history

),

{% if is_incremental() %}

previous_checkpoint as (

    select max(runs.checkpoint_id) as checkpoint_id
    from {{ this }} as runs
    where runs.as_of = (
        select max(earlier.as_of)
        from {{ this }} as earlier
        where earlier.as_of < {{ as_of_literal() }}
    )

),

{% else %}

previous_checkpoint as (

    select cast(null as {{ dbt.type_string() }}) as checkpoint_id

),

{% endif %}

pivoted as (

    select
        {%- for system_name in ['storefront', 'processor', 'erp'] %}
        max(case when sources.system_name = '{{ system_name }}' then sources.rows_read end)
            as {{ system_name }}_rows_read,
        max(case when sources.system_name = '{{ system_name }}' then sources.latest_record_at end)
            as {{ system_name }}_latest_record_at,
        {%- endfor %}
        sum(sources.rows_rejected) + max(calendar_rejections.rows_rejected) as rows_rejected,
        max(previous_checkpoint.checkpoint_id) as previous_checkpoint_id
    from sources
    cross join calendar_rejections
    cross join previous_checkpoint

),

stale as (

    select
        {{ dbt.listagg('system_name', "', '", 'order by system_name') }} as stale_sources,
        {{ dbt.listagg("system_name || ' ' || stale_reason", "'; '", 'order by system_name') }} as stale_reasons
    from sources
    where stale_reason is not null

),

final as (

    select
        cast({{ checkpoint_id() }} as {{ dbt.type_string() }}) as checkpoint_id,
        {{ as_of_literal() }} as as_of,
        cast(pivoted.storefront_rows_read as {{ dbt.type_bigint() }}) as storefront_rows_read,
        cast(pivoted.processor_rows_read as {{ dbt.type_bigint() }}) as processor_rows_read,
        cast(pivoted.erp_rows_read as {{ dbt.type_bigint() }}) as erp_rows_read,
        cast(pivoted.rows_rejected as {{ dbt.type_bigint() }}) as rows_rejected,
        cast(totals.storefront_totals as {{ dbt.type_string() }}) as storefront_totals,
        cast(totals.processor_totals as {{ dbt.type_string() }}) as processor_totals,
        cast(totals.erp_totals as {{ dbt.type_string() }}) as erp_totals,
        cast(coalesce(variance_counts.open_variance_count, 0) as integer) as open_variance_count,
        cast(coalesce(variance_counts.new_variance_count, 0) as integer) as new_variance_count,
        cast(coalesce(variance_counts.resolved_variance_count, 0) as integer) as resolved_variance_count,
        cast(coalesce(variance_counts.acknowledged_variance_count, 0) as integer) as acknowledged_variance_count,
        pivoted.storefront_latest_record_at,
        pivoted.processor_latest_record_at,
        pivoted.erp_latest_record_at,
        cast({{ source_freshness_hours() | int }} as integer) as freshness_window_hours,
        cast(stale.stale_sources as {{ dbt.type_string() }}) as stale_sources,
        cast(
            case
                when stale.stale_sources is not null then 'stale_sources'
                when variance_counts.unacknowledged_variance_count > 0 then 'variances_found'
                when coalesce(pivoted.rows_rejected, 0) > 0 then 'variances_found'
                else 'clean'
            end as {{ dbt.type_string() }}
        ) as outcome,
        -- Every rule that fired, so a reader knows why the outcome is not clean.
        cast(
            {{ dbt.concat([
                "coalesce('stale: ' || stale.stale_reasons || '; ', '')",
                "case when variance_counts.unacknowledged_variance_count > 0 then cast(variance_counts.unacknowledged_variance_count as " ~ dbt.type_string() ~ ") || ' open variances; ' else '' end",
                "case when coalesce(variance_counts.acknowledged_variance_count, 0) > 0 then cast(variance_counts.acknowledged_variance_count as " ~ dbt.type_string() ~ ") || ' acknowledged (not counted); ' else '' end",
                "case when coalesce(pivoted.rows_rejected, 0) > 0 then cast(pivoted.rows_rejected as " ~ dbt.type_string() ~ ") || ' input rows rejected (fct_rejected_rows); ' else '' end",
            ]) }} as {{ dbt.type_string() }}
        ) as outcome_reasons,
        cast(pivoted.previous_checkpoint_id as {{ dbt.type_string() }}) as previous_checkpoint_id
    from pivoted
    cross join totals
    cross join variance_counts
    cross join stale

)

select * from final
