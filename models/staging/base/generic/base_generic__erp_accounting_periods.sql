{#- The generic format carries no period calendar (contracts.md 1 has three
    inputs): no period is known to be closed, so no locked_period_posting.
    An ERP shape that knows its calendar (netsuite) fills this instead. -#}
{{ config(enabled=refund_shape_enabled('erp', 'generic')) }}

select
    cast(null as {{ dbt.type_bigint() }}) as source_row_number,
    cast(null as {{ dbt.type_string() }}) as source_file,
    cast(null as {{ dbt.type_string() }}) as accounting_period,
    cast(null as {{ dbt.type_string() }}) as period_name,
    cast(null as {{ dbt.type_string() }}) as is_closed,
    cast(null as {{ dbt.type_string() }}) as is_locked,
    cast(null as {{ dbt.type_string() }}) as closed_at
where 1 = 0
