{#- Every input row that cannot be reconciled, with where it came from (input,
    shape, file, row), the column at fault and why. Together with the reconciled
    refunds this accounts for every input row (see the conservation tests).
    The ERP's period calendar (input erp_accounting_periods, netsuite's
    accountingperiod) is listed too: a row whose period cannot be read
    (it locks nothing, so locked_period_posting cannot fire for that month)
    and a row whose closing date cannot be read (still locked by its flags,
    listed so the bad value is seen). Calendar rows carry no money. -#}

with

storefront_rows as (

    select * from {{ ref('stg_storefront__refunds') }}
    where not is_accepted

),

processor_rows as (

    select * from {{ ref('stg_processor__refund_events') }}
    where not is_accepted

),

erp_rows as (

    select * from {{ ref('stg_erp__refund_postings') }}
    where not is_accepted

),

calendar_rows as (

    select * from {{ ref('stg_erp__accounting_periods') }}
    where rejection_reason is not null

),

unioned as (

    select
        'storefront_refunds' as input_name,
        source_shape,
        source_file,
        source_row_number,
        storefront_refund_id as record_id,
        order_id,
        processor_refund_id,
        rejected_column,
        rejection_reason,
        amount_text,
        amount_minor,
        minor_units,
        currency
    from storefront_rows

    union all

    select
        'processor_refunds' as input_name,
        source_shape,
        source_file,
        source_row_number,
        processor_refund_id as record_id,
        order_id,
        processor_refund_id,
        rejected_column,
        rejection_reason,
        amount_text,
        amount_minor,
        minor_units,
        currency
    from processor_rows

    union all

    select
        'erp_refund_postings' as input_name,
        source_shape,
        source_file,
        source_row_number,
        erp_document_id as record_id,
        order_id,
        processor_refund_id,
        rejected_column,
        rejection_reason,
        amount_text,
        amount_minor,
        minor_units,
        currency
    from erp_rows

    union all

    select
        'erp_accounting_periods' as input_name,
        source_shape,
        source_file,
        source_row_number,
        coalesce(accounting_period, period_name) as record_id,
        cast(null as {{ dbt.type_string() }}) as order_id,
        cast(null as {{ dbt.type_string() }}) as processor_refund_id,
        rejected_column,
        rejection_reason,
        cast(null as {{ dbt.type_string() }}) as amount_text,
        cast(null as {{ dbt.type_bigint() }}) as amount_minor,
        cast(null as integer) as minor_units,
        cast(null as {{ dbt.type_string() }}) as currency
    from calendar_rows

),

final as (

    select
        cast(
            {{ dbt.concat([
                'input_name', "':'", 'source_shape', "':'", "coalesce(source_file, '')", "':'",
                'cast(source_row_number as ' ~ dbt.type_string() ~ ')',
            ]) }}
            as {{ dbt.type_string() }}
        ) as rejected_row_id,
        cast(input_name as {{ dbt.type_string() }}) as input_name,
        cast(source_shape as {{ dbt.type_string() }}) as source_shape,
        cast(source_file as {{ dbt.type_string() }}) as source_file,
        cast(source_row_number as {{ dbt.type_bigint() }}) as source_row_number,
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(order_id as {{ dbt.type_string() }}) as order_id,
        cast(processor_refund_id as {{ dbt.type_string() }}) as processor_refund_id,
        cast(rejected_column as {{ dbt.type_string() }}) as rejected_column,
        cast(rejection_reason as {{ dbt.type_string() }}) as rejection_reason,
        cast(amount_text as {{ dbt.type_string() }}) as amount_text,
        {{ minor_to_major('amount_minor', 'minor_units') }} as amount,
        cast(currency as {{ dbt.type_string() }}) as currency
    from unioned

)

select * from final
