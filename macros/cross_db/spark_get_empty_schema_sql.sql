{#- The contract check on Spark. dbt checks a contract by comparing the
    model's columns with `select cast(null as <data_type>) ...` built from the
    YAML; the YAML says varchar (DuckDB, PostgreSQL and most warehouses), which
    Spark accepts only with a length. Spark's text type is string, so the
    check casts to string there; every other type is passed as written. dbt
    looks up its own macros in the root project first, so this replaces
    dbt's default on Spark only. -#}
{% macro spark__get_empty_schema_sql(columns) %}
    {%- set spark_columns = {} -%}
    {%- for name in columns -%}
        {%- set column = columns[name] -%}
        {%- set data_type = column.get('data_type') -%}
        {%- if data_type is string and data_type | trim | lower in ('varchar', 'text') -%}
            {%- do spark_columns.update({name: dict(column, data_type=dbt.type_string())}) -%}
        {%- else -%}
            {%- do spark_columns.update({name: column}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(default__get_empty_schema_sql(spark_columns)) }}
{% endmacro %}
