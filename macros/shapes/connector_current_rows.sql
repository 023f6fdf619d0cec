{#- The current rows of a connector's table, for a base model's `from`:
    `from {{ connector_current_rows(relation, key=['id']) }}`. Each
    connector marks history and deletes with its own columns; whichever of
    them the table has are read (docs/connectors.md 5.2):
    - Fivetran: `_fivetran_deleted` true is a soft delete (skipped);
      history mode's `_fivetran_active` false is a past version (skipped),
      `_fivetran_start` orders versions;
    - Airbyte: `_ab_cdc_deleted_at` set is a delete (skipped); an append
      sync lands a row per version: the latest per key by the stream's
      cursor (`cursor`, a column name), then `_airbyte_extracted_at`
      (Destinations V2) or `_airbyte_emitted_at` (V1), as append-dedup
      keeps it;
    - Stitch: `_sdc_deleted_at` set is a delete (skipped); `_sdc_sequence`,
      then `_sdc_batched_at` order versions: the latest per key.
    Versions are collapsed only when the table has a versioning column and
    every key column; ties fall to the later file row. A table with none
    of these columns is read whole. The result has the table's columns
    plus connector_version_rank (1). -#}
{% macro connector_current_rows(relation, key=[], cursor=none) %}
    {%- if not execute or flag_var('refund_recon_lint', false) -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set found = {} -%}
    {%- for column in adapter.get_columns_in_relation(relation) -%}
        {%- do found.update({normalized_column_name(column.name): adapter.quote(column.name)}) -%}
    {%- endfor -%}
    {%- set skipped = [] -%}
    {%- for name in ['_fivetran_deleted'] if name in found -%}
        {%- do skipped.append(connector_flag_text(found[name]) ~ " in ('t', 'true', '1', 'y', 'yes')") -%}
    {%- endfor -%}
    {%- for name in ['_fivetran_active'] if name in found -%}
        {%- do skipped.append(connector_flag_text(found[name]) ~ " in ('f', 'false', '0', 'n', 'no')") -%}
    {%- endfor -%}
    {%- for name in ['_sdc_deleted_at', '_ab_cdc_deleted_at'] if name in found -%}
        {%- do skipped.append(connector_flag_text(found[name]) ~ " <> ''") -%}
    {%- endfor -%}
    {%- set versions = [] -%}
    {%- for name in ['_fivetran_start', '_sdc_sequence', '_sdc_batched_at', '_airbyte_extracted_at', '_airbyte_emitted_at'] if name in found -%}
        {%- do versions.append(safe_cast_bigint('cast(' ~ found[name] ~ ' as ' ~ dbt.type_string() ~ ')') if name == '_sdc_sequence' else found[name]) -%}
    {%- endfor -%}
    {%- set keys = [] -%}
    {%- for name in key if normalized_column_name(name) in found -%}
        {%- do keys.append('trim(cast(' ~ found[normalized_column_name(name)] ~ ' as ' ~ dbt.type_string() ~ '))') -%}
    {%- endfor -%}
    {%- set collapse = versions | length > 0 and key | length > 0 and keys | length == key | length -%}
    {%- if not skipped and not collapse -%}
        {{- return(relation) -}}
    {%- endif -%}
    {%- set cursor_name = normalized_column_name(cursor) if cursor else none -%}
    {%- set order = ([found[cursor_name]] if cursor_name in found else []) + versions -%}
    {%- if '_source_row_number' in found -%}
        {%- do order.append('cast(' ~ found['_source_row_number'] ~ ' as ' ~ dbt.type_bigint() ~ ')') -%}
    {%- endif -%}
    (
        select *
        from (
            select
                *,
                {%- if collapse %}
                row_number() over (
                    partition by {{ keys | join(', ') }}
                    order by {{ order | join(' desc nulls last, ') }} desc nulls last
                ) as connector_version_rank
                {%- else %}
                1 as connector_version_rank
                {%- endif %}
            from {{ relation }}
            {%- if skipped %}
            where not (
                {{ skipped | join('\n                or ') }}
            )
            {%- endif %}
        ) as connector_versions
        where connector_version_rank = 1
    ) as connector_current_rows
{%- endmacro %}


{#- A connector's system column as lower-case text, blank when null (its
    type differs by warehouse: boolean, timestamp, or text from a file). -#}
{% macro connector_flag_text(column) -%}
    coalesce(lower(trim(cast({{ column }} as {{ dbt.type_string() }}))), '')
{%- endmacro %}
