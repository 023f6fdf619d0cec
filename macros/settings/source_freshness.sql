{#-
    `dbt source freshness` measured at the checkpoint's clock. dbt's own
    macro compares each source's newest loaded_at_field with the wall clock;
    here the moment it is measured at (snapshotted_at) is:
    - var as_of when it is set (validated: as_of_literal), so a backfill or
      the bundled sample is judged at its own as_of;
    - else, on the bundled sample (no data_dir, no REFUND_RECON_DATA_DIR),
      the sample's own as_of from data/sample/scenario.json, written by the
      generator with the data (a project file, not an input);
    - else now (the wall clock), as dbt does.
    max_loaded_at is the data's own newest time, never shifted, and the
    thresholds (warn_after, error_after in the sources YAML) are unchanged:
    data older than them at that moment warns or errors on every target.
-#}
{% macro default__collect_freshness(source, loaded_at_field, filter) %}
    {% call statement('collect_freshness', fetch_result=True, auto_begin=False) -%}
        select
            max({{ loaded_at_field }}) as max_loaded_at,
            {{ source_freshness_clock() }} as snapshotted_at
        from {{ source }}
        {% if filter %}
        where {{ filter }}
        {% endif %}
    {%- endcall %}
    {{ return(load_result('collect_freshness')) }}
{% endmacro %}


{% macro source_freshness_clock() %}
    {%- set raw = as_of_text() | string | trim -%}
    {%- if raw not in ('', 'None', 'now') -%}
        {{- return(as_of_literal()) -}}
    {%- elif target.type == 'duckdb' and refund_inputs_are_files() and refund_data_dir() == 'data/sample' -%}
        {{- return(duckdb_bundled_sample_as_of()) -}}
    {%- endif -%}
    {{- return(current_timestamp()) -}}
{% endmacro %}


{#- The bundled sample's as_of, as the generator wrote it beside the data (DuckDB). -#}
{% macro duckdb_bundled_sample_as_of() %}
    {{- return("(select cast(as_of as timestamptz) from read_json('data/sample/scenario.json', "
               ~ "columns = {as_of: 'varchar'}))") -}}
{% endmacro %}
