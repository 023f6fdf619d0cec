{#- What the last complete checkpoint read, for the next one to start from
    (macros/checkpoint): one row per input file with its size, modification
    time and rows, the checkpoint's as_of and the fingerprint of the code,
    seeds and settings it ran with. Built after every incremental model and
    the conservation test, so a run that fails part-way leaves the previous
    state, and the next run reads the deliveries it did not finish again.
    Empty where the inputs are warehouse tables (those checkpoints are full
    builds). -#}

-- depends_on: {{ ref('stg_storefront__refunds') }}, {{ ref('stg_processor__refund_events') }}, {{ ref('stg_erp__refund_postings') }}
-- depends_on: {{ ref('int_storefront_refunds_deduplicated') }}, {{ ref('int_processor_refunds_collapsed') }}, {{ ref('int_erp_postings_deduplicated') }}
-- depends_on: {{ ref('int_refunds_matched') }}, {{ ref('int_refund_variances_detected') }}, {{ ref('int_refund_amounts_by_system') }}
-- depends_on: {{ ref('rpt_refund_reconciliation') }}, {{ ref('fct_expected_erp_postings') }}, {{ ref('fct_rejected_rows') }}

with

{% if target.type == 'duckdb' and var('read_inputs_from_files', true) %}

input_files as (

    select
        source_file,
        size,
        last_modified
    from {{ var('refund_inputs_schema', 'refund_inputs') }}.refund_input_files

),

{%- set incremental = checkpoint_run_mode() == 'incremental' %}

staged_rows as (

    -- The rows each file gave: counted from staging for the files this run
    -- read, carried over for the files read before (unchanged since).
    {% for model in ['stg_storefront__refunds', 'stg_processor__refund_events', 'stg_erp__refund_postings'] -%}
    select
        source_file,
        count(*) as row_count
    from {{ ref(model) }}
    {%- if incremental %}
    where {{ checkpoint_new_row() }}
    {%- endif %}
    group by source_file
    union all
    {% endfor -%}
    {%- if incremental %}
    select
        source_file,
        row_count
    from {{ checkpoint_state_relation() }}
    {%- else %}
    select
        cast(null as {{ dbt.type_string() }}),
        cast(null as {{ dbt.type_bigint() }})
    where 1 = 0
    {%- endif %}

),

files as (

    select
        input_files.source_file,
        input_files.size,
        input_files.last_modified,
        coalesce(staged_rows.row_count, 0) as row_count
    from input_files
    left join staged_rows
        on input_files.source_file = staged_rows.source_file

),

{% else %}

files as (

    select
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_bigint() }}) as size,
        cast(null as {{ dbt.type_timestamp() }}) as last_modified,
        cast(null as {{ dbt.type_bigint() }}) as row_count
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        size,
        last_modified,
        cast(row_count as {{ dbt.type_bigint() }}) as row_count,
        {{ as_of_literal() }} as as_of,
        cast('{{ checkpoint_fingerprint() }}' as {{ dbt.type_string() }}) as fingerprint
    from files

)

select * from final
