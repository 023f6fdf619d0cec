{#- Every input row that cannot be reconciled, with where it came from (input,
    shape, file, row), the column at fault and why. Together with the reconciled
    refunds this accounts for every input row (see the conservation tests).
    The ERP's period calendar (input erp_accounting_periods, netsuite's
    accountingperiod) is listed too: a row whose period cannot be read
    (it locks nothing, so locked_period_posting cannot fire for that month)
    and a row whose closing date cannot be read (still locked by its flags,
    listed so the bad value is seen). Calendar rows carry no money. -#}

with

rejected as (

    -- every input's rows listed as rejected, the calendar's among them
    select * from {{ ref('int_input_rows') }}
    where is_rejected

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
        cast(currency as {{ dbt.type_string() }}) as currency,
        {{ checkpoint_id_constant() }} as checkpoint_id
    from rejected

)

select * from final
