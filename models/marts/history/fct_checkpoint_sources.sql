{#- One row per completed checkpoint and system: what the system delivered
    and whether it is stale. The one statement of the freshness rules: both
    fct_checkpoint_runs (the outcome) and fct_variance_history (which moves
    only when no source is stale) read it. A source is stale when it
    delivered no rows, no accepted row, nothing newer than the freshness
    window, or nothing new since the previous checkpoint:

      rows (both)         no more rows of distinct content and no newer
                          record than the previous checkpoint: a batch
                          appended again, or a file's rows exported again
                          in new bytes (re-compressed, other line endings),
                          is nothing new;
      files (DuckDB,      and also no file read whose content (md5) an
       Spark)             earlier checkpoint had not read: a file sent
                          again under any name is a repeat, even where
                          files an earlier checkpoint read apart are read
                          together (docs/running.md "What makes a delivery
                          new").

    Incremental and never fully refreshed: it is the record. -#}

{{ config(pre_hook="{{ replace_current_checkpoint('checkpoint_as_of') }}", **checkpoint_history_config('checkpoint_as_of')) }}

{%- set window_hours = source_freshness_hours() | int -%}
{%- set files = refund_inputs_are_files() -%}
{%- set hours_before_as_of = dbt.datediff('deliveries.latest_record_at', as_of_literal(), 'hour') -%}
{#- distinct_rows_read came after the first checkpoints: a table recorded
    before it has no such column until this build appends it (a unit test's
    `this` is its fixture, text here, which has it). -#}
{%- set previous_has_distinct = true -%}
{%- if is_incremental() and execute and this is not string -%}
    {%- set previous_has_distinct = 'distinct_rows_read' in (
        adapter.get_columns_in_relation(this) | map(attribute='name') | map('lower') | list
    ) -%}
{%- endif -%}

with

input_rows as (

    -- the three refund inputs (the period calendar is not a delivery of refunds)
    select * from {{ ref('int_input_rows') }}
    where input_name in ('storefront_refunds', 'processor_refunds', 'erp_refund_postings')

),

systems as (

    select 'storefront' as system_name
    union all
    select 'processor' as system_name
    union all
    select 'erp' as system_name

),

deliveries as (

    -- what each system delivered, a row even when it delivered nothing; a
    -- record's time is when the system recorded it (the ERP: received_at)
    select
        systems.system_name,
        count(input_rows.input_name) as rows_read,
        sum(
            case
                when input_rows.input_name is null then null
                when input_rows.is_accepted then 0
                else 1
            end
        ) as rows_rejected,
        max(case when input_rows.is_accepted then input_rows.received_at end) as latest_record_at,
        count(distinct case when input_rows.input_name is not null then {{ input_row_content_hash('input_rows') }} end)
            as distinct_rows_read
    from systems
    left join input_rows
        on systems.system_name = input_rows.system_name
    group by systems.system_name

),

{% if files %}

files_read as (

    -- the files the on-run-start hook read (a repeat within this run is not read)
    select distinct
        system_name,
        content_md5
    from {{ refund_input_files_relation() }}
    where status = 'read'

),

{% else %}

files_read as (

    select
        cast(null as {{ dbt.type_string() }}) as system_name,
        cast(null as {{ dbt.type_string() }}) as content_md5
    where false

),

{% endif %}

{% if is_incremental() %}

earlier_checkpoints as (

    select * from {{ this }}
    where checkpoint_as_of < {{ as_of_literal() }}

),

previous_checkpoint as (

    select
        earlier_checkpoints.checkpoint_id,
        earlier_checkpoints.system_name,
        earlier_checkpoints.rows_read,
        earlier_checkpoints.latest_record_at,
        {% if previous_has_distinct -%}
            earlier_checkpoints.distinct_rows_read
        {%- else -%}
            cast(null as {{ dbt.type_bigint() }}) as distinct_rows_read
        {%- endif %}
    from earlier_checkpoints
    inner join (
        select max(checkpoint_as_of) as checkpoint_as_of
        from earlier_checkpoints
    ) as latest
        on earlier_checkpoints.checkpoint_as_of = latest.checkpoint_as_of

),

{% else %}

earlier_checkpoints as (

    select
        cast(null as {{ dbt.type_string() }}) as system_name,
        cast(null as {{ dbt.type_string() }}) as new_content_md5s
    where false

),

previous_checkpoint as (

    select
        cast(null as {{ dbt.type_string() }}) as checkpoint_id,
        cast(null as {{ dbt.type_string() }}) as system_name,
        cast(null as {{ dbt.type_bigint() }}) as rows_read,
        cast(null as timestamp) as latest_record_at,
        cast(null as {{ dbt.type_bigint() }}) as distinct_rows_read
    where false

),

{% endif %}

{% if files %}

seen_content as (

    -- every content an earlier checkpoint read first (files: DuckDB, Spark)
    select distinct
        system_name,
        {{ unnest_comma_list('new_content_md5s') }} as content_md5
    from earlier_checkpoints
    where new_content_md5s is not null

),

new_content as (

    select
        files_read.system_name,
        count(*) as new_delivery_files,
        {{ dbt.listagg('files_read.content_md5', "','", 'order by files_read.content_md5') }} as new_content_md5s
    from files_read
    left join seen_content
        on
            files_read.system_name = seen_content.system_name
            and files_read.content_md5 = seen_content.content_md5
    where seen_content.content_md5 is null
    group by files_read.system_name

),

{% else %}

new_content as (

    select
        cast(null as {{ dbt.type_string() }}) as system_name,
        cast(null as {{ dbt.type_bigint() }}) as new_delivery_files,
        cast(null as {{ dbt.type_string() }}) as new_content_md5s
    where false

),

{% endif %}

files_by_system as (

    select
        system_name,
        count(*) as delivery_files
    from files_read
    group by system_name

),

judged as (

    select
        deliveries.system_name,
        deliveries.rows_read,
        deliveries.rows_rejected,
        deliveries.latest_record_at,
        deliveries.distinct_rows_read,
        files_by_system.delivery_files,
        new_content.new_delivery_files,
        new_content.new_content_md5s,
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
            {%- if files %}
            when previous_checkpoint.checkpoint_id is not null and new_content.new_delivery_files is null
                then
                    'nothing new since '
                    || previous_checkpoint.checkpoint_id
                    || ' (every file it read was read before, under this or another name)'
            {%- endif %}
            when coalesce(
                -- an older record has no distinct_rows_read: its rows_read is compared
                coalesce(
                    deliveries.distinct_rows_read <= previous_checkpoint.distinct_rows_read,
                    deliveries.rows_read <= previous_checkpoint.rows_read
                )
                and deliveries.latest_record_at <= previous_checkpoint.latest_record_at,
                false
            ) then
                'nothing new since '
                || previous_checkpoint.checkpoint_id
                || ' (no row of content it had not read, no newer record)'
        end as stale_reason
    from deliveries
    left join previous_checkpoint
        on deliveries.system_name = previous_checkpoint.system_name
    left join files_by_system
        on deliveries.system_name = files_by_system.system_name
    left join new_content
        on deliveries.system_name = new_content.system_name

),

final as (

    select
        cast({{ checkpoint_id() }} as {{ dbt.type_string() }}) as checkpoint_id,
        {{ as_of_literal() }} as checkpoint_as_of,
        cast(system_name as {{ dbt.type_string() }}) as system_name,
        cast(rows_read as {{ dbt.type_bigint() }}) as rows_read,
        cast(rows_rejected as {{ dbt.type_bigint() }}) as rows_rejected,
        latest_record_at,
        cast(delivery_files as {{ dbt.type_bigint() }}) as delivery_files,
        cast(
            {% if files %}coalesce(new_delivery_files, 0){% else %}new_delivery_files{% endif %}
            as {{ dbt.type_bigint() }}
        ) as new_delivery_files,
        cast(new_content_md5s as {{ dbt.type_string() }}) as new_content_md5s,
        cast(previous_checkpoint_id as {{ dbt.type_string() }}) as previous_checkpoint_id,
        cast(stale_reason as {{ dbt.type_string() }}) as stale_reason,
        -- last: an existing record gains it at the end (on_schema_change: append_new_columns)
        cast(distinct_rows_read as {{ dbt.type_bigint() }}) as distinct_rows_read
    from judged

)

select * from final
