{#-
    A row's first failed check, as two columns: rejected_column (the input
    column at fault) and rejection_reason (why). `checks` is a list of
    (condition that marks the row bad, column, reason); null when all pass.
    A reason is literal text, or {'sql': expression} for one that names the
    row's own value (built only from text a check has validated).
-#}
{% macro first_failed_check(checks) -%}
    case
        {%- for condition, column, reason in checks %}
        when {{ condition }} then '{{ column }}'
        {%- endfor %}
    end as rejected_column,
    case
        {%- for condition, column, reason in checks %}
        when {{ condition }} then {{ reason.sql if reason is mapping else "'" ~ reason ~ "'" }}
        {%- endfor %}
    end as rejection_reason
{%- endmacro %}


{#- Trimmed text, with blank as null. -#}
{% macro clean_text(column) -%}
    nullif(trim({{ column }}), '')
{%- endmacro %}
