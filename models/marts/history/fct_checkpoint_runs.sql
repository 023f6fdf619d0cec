{#- One row per completed checkpoint: what each system delivered, how fresh
    it is, the open, new and resolved variances, and the outcome with the
    rules that decided it (README "Outcomes"):

      stale_sources    a source delivered no rows, nothing newer than the
                       freshness window, or nothing new since the previous
                       checkpoint (more rows or a newer record);
      variances_found  otherwise, any open variance or any rejected input row
                       (every row of fct_rejected_rows: the period calendar's
                       too, since a calendar row that cannot be placed can hide
                       a locked-period posting);
      clean            otherwise: zero open variances, zero rejected rows,
                       every source fresh.

    Incremental and never fully refreshed: it is the record. The runner builds
    in a copy of the database and swaps it in only when the whole build passed,
    so a failed checkpoint never lands here and is never the "previous
    checkpoint" (the runner logs it in checkpoint_attempts). -#}

{{ config(pre_hook="{{ replace_current_checkpoint('as_of') }}", **checkpoint_history_config('as_of')) }}

{%- set window_hours = source_freshness_hours() | int -%}
{%- set hours_before_as_of = dbt.datediff('deliveries.latest_record_at', as_of_literal(), 'hour') -%}

with

storefront_rows as (

    select * from {{ ref('stg_storefront__refunds') }}

),

processor_rows as (

    select * from {{ ref('stg_processor__refund_events') }}

),

erp_rows as (

    select * from {{ ref('stg_erp__refund_postings') }}

),

calendar_rows as (

    select * from {{ ref('stg_erp__accounting_periods') }}

),

calendar_rejections as (

    -- the calendar rows fct_rejected_rows lists
    select count(*) as rows_rejected from calendar_rows
    where rejection_reason is not null

),

reconciliation as (

    select * from {{ ref('rpt_refund_reconciliation') }}

),

history as (

    select * from {{ ref('fct_variance_history') }}
    where checkpoint_as_of = {{ as_of_literal() }}

),

deliveries as (

    select
        'storefront' as system_name,
        count(*) as rows_read,
        sum(case when is_accepted then 0 else 1 end) as rows_rejected,
        max(case when is_accepted then recorded_at end) as latest_record_at
    from storefront_rows
    union all
    select
        'processor' as system_name,
        count(*) as rows_read,
        sum(case when is_accepted then 0 else 1 end) as rows_rejected,
        max(case when is_accepted then event_at end) as latest_record_at
    from processor_rows
    union all
    select
        'erp' as system_name,
        count(*) as rows_read,
        sum(case when is_accepted then 0 else 1 end) as rows_rejected,
        max(case when is_accepted then received_at end) as latest_record_at
    from erp_rows

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
        sum(case when state = 'resolved' then 1 else 0 end) as resolved_variance_count
    from history

),

{% if is_incremental() %}

earlier_checkpoints as (

    select * from {{ this }}
    where as_of < {{ as_of_literal() }}

),

latest_earlier_checkpoint as (

    select max(as_of) as as_of
    from earlier_checkpoints

),

previous_checkpoint as (

    select earlier_checkpoints.*
    from earlier_checkpoints
    inner join latest_earlier_checkpoint
        on earlier_checkpoints.as_of = latest_earlier_checkpoint.as_of

),

{% else %}

previous_checkpoint as (

    select
        cast(null as {{ dbt.type_string() }}) as checkpoint_id,
        cast(null as {{ dbt.type_bigint() }}) as storefront_rows_read,
        cast(null as {{ dbt.type_bigint() }}) as processor_rows_read,
        cast(null as {{ dbt.type_bigint() }}) as erp_rows_read,
        cast(null as timestamp) as storefront_latest_record_at,
        cast(null as timestamp) as processor_latest_record_at,
        cast(null as timestamp) as erp_latest_record_at
    where false

),

{% endif %}

freshness as (

    select
        deliveries.system_name,
        deliveries.rows_read,
        deliveries.rows_rejected,
        deliveries.latest_record_at,
        previous_checkpoint.checkpoint_id as previous_checkpoint_id,
        case
            when deliveries.rows_read = 0 then 'no rows'
            when deliveries.latest_record_at is null then 'no accepted row'
            when deliveries.latest_record_at < {{ dbt.dateadd('hour', -window_hours, as_of_literal()) }}
                then
                    'newest record '
                    || cast(deliveries.latest_record_at as {{ dbt.type_string() }})
                    || ', '
                    || cast({{ hours_before_as_of }} as {{ dbt.type_string() }})
                    || ' h before as_of (window {{ window_hours }} h)'
            when coalesce(
                deliveries.rows_read <= case deliveries.system_name
                    when 'storefront' then previous_checkpoint.storefront_rows_read
                    when 'processor' then previous_checkpoint.processor_rows_read
                    else previous_checkpoint.erp_rows_read
                end
                and deliveries.latest_record_at <= case deliveries.system_name
                    when 'storefront' then previous_checkpoint.storefront_latest_record_at
                    when 'processor' then previous_checkpoint.processor_latest_record_at
                    else previous_checkpoint.erp_latest_record_at
                end,
                false
            ) then 'nothing new since ' || previous_checkpoint.checkpoint_id
        end as stale_reason
    from deliveries
    left join previous_checkpoint on 1 = 1

),

pivoted as (

    select
        {%- for system_name in ['storefront', 'processor', 'erp'] %}
        max(case when freshness.system_name = '{{ system_name }}' then freshness.rows_read end)
            as {{ system_name }}_rows_read,
        max(case when freshness.system_name = '{{ system_name }}' then freshness.latest_record_at end)
            as {{ system_name }}_latest_record_at,
        {%- endfor %}
        sum(freshness.rows_rejected) + max(calendar_rejections.rows_rejected) as rows_rejected,
        max(freshness.previous_checkpoint_id) as previous_checkpoint_id
    from freshness
    cross join calendar_rejections

),

stale as (

    select
        {{ dbt.listagg('system_name', "', '", 'order by system_name') }} as stale_sources,
        {{ dbt.listagg("system_name || ' ' || stale_reason", "'; '", 'order by system_name') }} as stale_reasons
    from freshness
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
        pivoted.storefront_latest_record_at,
        pivoted.processor_latest_record_at,
        pivoted.erp_latest_record_at,
        cast({{ window_hours }} as integer) as freshness_window_hours,
        cast(stale.stale_sources as {{ dbt.type_string() }}) as stale_sources,
        cast(
            case
                when stale.stale_sources is not null then 'stale_sources'
                when coalesce(variance_counts.open_variance_count, 0) > 0 then 'variances_found'
                when coalesce(pivoted.rows_rejected, 0) > 0 then 'variances_found'
                else 'clean'
            end as {{ dbt.type_string() }}
        ) as outcome,
        -- Every rule that fired, so a reader knows why the outcome is not clean.
        cast(
            {{ dbt.concat([
                "coalesce('stale: ' || stale.stale_reasons || '; ', '')",
                "case when coalesce(variance_counts.open_variance_count, 0) > 0 then cast(variance_counts.open_variance_count as " ~ dbt.type_string() ~ ") || ' open variances; ' else '' end",
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
