{#- dbt.listagg on Spark, in order. dbt-spark's own implementation drops the
    order by (collect_list has no order), so the totals text of
    fct_checkpoint_runs ('EUR 12.50; USD 9.00') would come out in any order.
    dbt looks up dbt's cross-database macros in the root project first, so
    this one replaces it: the values are collected with their sort key,
    sorted, and joined; no value at all is null, as string_agg and listagg
    give (collect_list would join to ''). `order_by_clause` is 'order by <expression>'
    (ascending; one expression, as this project writes it). -#}
{% macro spark__listagg(measure, delimiter_text, order_by_clause, limit_num) -%}
    {%- if order_by_clause -%}
        {%- set sort_key = modules.re.sub('(?i)^\\s*order\\s+by\\s+', '', order_by_clause) | trim -%}
        {%- if modules.re.search('(?i),|\\s(asc|desc)\\b|\\bnulls\\b', sort_key) -%}
            {{ exceptions.raise_compiler_error("spark__listagg: order by takes one ascending expression, got '" ~ order_by_clause ~ "'") }}
        {%- endif -%}
        {%- set collected = "transform(array_sort(collect_list(named_struct('sort_key', " ~ sort_key ~ ", 'value', " ~ measure ~ "))), item -> item.value)" -%}
    {%- else -%}
        {%- set collected = 'collect_list(' ~ measure ~ ')' -%}
    {%- endif -%}
    {%- if limit_num -%}
        {%- set collected = 'slice(' ~ collected ~ ', 1, ' ~ limit_num ~ ')' -%}
    {%- endif -%}
    {#- Nothing to join is null, as on other engines (array_join gives ''). -#}
    case when count({{ measure }}) > 0 then array_join({{ collected }}, {{ delimiter_text }}) end
{%- endmacro %}
