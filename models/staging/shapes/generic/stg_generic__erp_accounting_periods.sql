{#- The generic format carries no period calendar (contracts.md 1 has three
    inputs): no period is known to be closed, so no locked_period_posting.
    An ERP shape that knows its calendar (netsuite) fills this instead. -#}
{{ config(enabled=refund_shape_enabled('erp', 'generic')) }}

select
    cast(null as {{ dbt.type_bigint() }}) as source_row_number,
    {%- for column in refund_shape_columns('erp_accounting_periods')[1:] %}
    cast(null as {{ dbt.type_string() }}) as {{ column }}{{ ',' if not loop.last }}
    {%- endfor %}
where 1 = 0
