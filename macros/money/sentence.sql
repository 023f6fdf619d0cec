{#- Concatenate SQL expressions into one sentence; a null part reads as
    `null_as` instead of swallowing the whole sentence. String literals are
    passed quoted, e.g. "'Refund '". -#}
{% macro sentence(parts, null_as='?') -%}
    {%- set safe = [] -%}
    {%- for part in parts -%}
        {%- if part.startswith("'") -%}
            {%- do safe.append(part) -%}
        {%- else -%}
            {%- do safe.append("coalesce(cast(" ~ part ~ " as " ~ dbt.type_string() ~ "), '" ~ null_as ~ "')") -%}
        {%- endif -%}
    {%- endfor -%}
    {{ dbt.concat(safe) }}
{%- endmacro %}
