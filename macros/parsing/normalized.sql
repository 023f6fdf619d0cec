{#- A raw code as mapping seeds match it: trimmed and lower-cased. -#}
{% macro normalized(column) -%}
    lower(trim({{ column }}))
{%- endmacro %}
