{#- What the last complete checkpoint read, for the next one to start from
    (macros/checkpoint): one row per input file with its size and
    modification time, the checkpoint's as_of and the fingerprint of the
    code, seeds and settings it ran with. Built after every incremental
    model, so a run that fails part-way leaves the previous state, and the
    next run reads the deliveries it did not finish again. Empty where the
    inputs are warehouse tables (those checkpoints are full builds). -#}

-- depends_on: {{ ref('stg_storefront__refunds') }}, {{ ref('stg_processor__refund_events') }}, {{ ref('stg_erp__refund_postings') }}
-- depends_on: {{ ref('int_storefront_refunds_deduplicated') }}, {{ ref('int_processor_refunds_collapsed') }}, {{ ref('int_erp_postings_deduplicated') }}
-- depends_on: {{ ref('int_refunds_matched') }}, {{ ref('int_refund_variances_detected') }}, {{ ref('int_refund_amounts_by_system') }}
-- depends_on: {{ ref('rpt_refund_reconciliation') }}, {{ ref('fct_expected_erp_postings') }}

with

{% if target.type == 'duckdb' and var('read_inputs_from_files', true) %}

input_files as (

    select source_file, size, last_modified
    from {{ var('refund_inputs_schema', 'refund_inputs') }}.refund_input_files

),

{% else %}

input_files as (

    select
        cast(null as {{ dbt.type_string() }}) as source_file,
        cast(null as {{ dbt.type_bigint() }}) as size,
        cast(null as {{ dbt.type_timestamp() }}) as last_modified
    where 1 = 0

),

{% endif %}

final as (

    select
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        size,
        last_modified,
        {{ as_of_literal() }} as as_of,
        cast('{{ checkpoint_fingerprint() }}' as {{ dbt.type_string() }}) as fingerprint
    from input_files

)

select * from final
