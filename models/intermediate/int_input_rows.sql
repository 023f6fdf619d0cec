{#- Every staged input row once, of every input: the storefront's refunds, the
    processor's events, the ERP's postings and its period calendar. Where it
    came from (input, shape, file, row), its record's ids, its amount and
    currency as staged, and whether it is rejected and why. The one stack of
    input rows the marts and the conservation tests read (fct_rejected_rows,
    fct_refund_audit_trail, fct_checkpoint_sources, fct_checkpoint_totals,
    fct_checkpoint_runs): none of them reads staging itself.

    is_rejected: listed in fct_rejected_rows (a rejection reason is set).
    is_accepted: as staged; a calendar row whose closing date is unreadable is
    rejected and still accepted (it still locks its period).

    A view: a union of the staging tables costs nothing to read, and each
    reader scans only the inputs and columns it uses; as a table it would be
    written once per build for nothing (BENCHMARKS.md, Where the time goes). -#}

{{ config(materialized='view') }}

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

unioned as (

    select
        'storefront_refunds' as input_name,
        'storefront' as system_name,
        source_shape,
        source_file,
        source_row_number,
        storefront_refund_id as record_id,
        order_id,
        processor_refund_id,
        system_name as product_name,
        raw_status,
        recorded_at,
        recorded_at as received_at,
        amount_text,
        amount_minor,
        minor_units,
        currency,
        rejected_column,
        rejection_reason,
        is_accepted
    from storefront_rows

    union all

    select
        'processor_refunds' as input_name,
        'processor' as system_name,
        source_shape,
        source_file,
        source_row_number,
        processor_refund_id as record_id,
        order_id,
        processor_refund_id,
        processor as product_name,
        raw_status,
        event_at as recorded_at,
        event_at as received_at,
        amount_text,
        amount_minor,
        minor_units,
        currency,
        rejected_column,
        rejection_reason,
        is_accepted
    from processor_rows

    union all

    select
        'erp_refund_postings' as input_name,
        'erp' as system_name,
        source_shape,
        source_file,
        source_row_number,
        erp_document_id as record_id,
        order_id,
        processor_refund_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        gl_account as raw_status,
        posted_at as recorded_at,
        received_at,
        amount_text,
        amount_minor,
        minor_units,
        currency,
        rejected_column,
        rejection_reason,
        is_accepted
    from erp_rows

    union all

    select
        'erp_accounting_periods' as input_name,
        'erp' as system_name,
        source_shape,
        source_file,
        source_row_number,
        coalesce(accounting_period, period_name) as record_id,
        cast(null as {{ dbt.type_string() }}) as order_id,
        cast(null as {{ dbt.type_string() }}) as processor_refund_id,
        cast(null as {{ dbt.type_string() }}) as product_name,
        cast(null as {{ dbt.type_string() }}) as raw_status,
        closed_at as recorded_at,
        cast(null as timestamp) as received_at,
        cast(null as {{ dbt.type_string() }}) as amount_text,
        cast(null as {{ dbt.type_bigint() }}) as amount_minor,
        cast(null as integer) as minor_units,
        cast(null as {{ dbt.type_string() }}) as currency,
        rejected_column,
        rejection_reason,
        is_accepted
    from calendar_rows

),

final as (

    select
        -- ids
        input_name,
        source_shape,
        source_file,
        source_row_number,
        record_id,
        order_id,
        processor_refund_id,

        -- strings
        system_name,
        product_name,
        raw_status,
        amount_text,
        currency,
        rejected_column,
        rejection_reason,

        -- numerics
        amount_minor,
        minor_units,

        -- booleans
        is_accepted,
        rejection_reason is not null as is_rejected,

        -- timestamps
        recorded_at,
        received_at

    from unioned

)

select * from final
