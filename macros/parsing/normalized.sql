{#- A raw code as mapping seeds match it: trimmed and lower-cased. -#}
{% macro normalized(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}


{#- Flag text as NetSuite and exports write it: T / true / 1 / yes. -#}
{% macro is_true_text(expr) -%}
    (lower(trim({{ expr }})) in ('t', 'true', '1', 'y', 'yes'))
{%- endmacro %}

{% macro is_false_text(expr) -%}
    (lower(trim({{ expr }})) in ('f', 'false', '0', 'n', 'no'))
{%- endmacro %}
