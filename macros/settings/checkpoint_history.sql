{#-
    The checkpoint history models are incremental and never fully refreshed:
    history is the record of what each checkpoint saw. Re-running a checkpoint
    for the same as_of replaces that checkpoint's rows, so a re-run adds
    nothing twice; older and later checkpoints are left as they are.
-#}
{% macro replace_current_checkpoint(as_of_column) %}
    {{- return(adapter.dispatch('replace_current_checkpoint', 'refund_recon')(as_of_column)) -}}
{% endmacro %}

{% macro default__replace_current_checkpoint(as_of_column) %}
    {%- set existing = load_relation(this) -%}
    {%- if existing is not none -%}
        delete from {{ existing }} where {{ as_of_column }} = {{ as_of_literal() }}
    {%- else -%}
        select 1 as nothing_to_replace
    {%- endif -%}
{% endmacro %}

{#- Spark's plain (Parquet) tables take no delete: each history model is
    partitioned by its as_of column and written with insert_overwrite
    (checkpoint_history_config), which replaces the partition of this
    checkpoint and no other, so there is nothing to delete first. -#}
{% macro spark__replace_current_checkpoint(as_of_column) %}
    select 1 as replaced_by_insert_overwrite
{% endmacro %}


{#- The storage of a history model: on Spark (and Databricks) a Parquet
    table partitioned by the checkpoint, written with insert_overwrite
    (dynamic partition overwrite: a re-run of one as_of replaces that
    partition only); elsewhere the adapter's default (append, after the
    pre-hook's delete). -#}
{% macro checkpoint_history_config(as_of_column) %}
    {%- if target.type in ('spark', 'databricks') -%}
        {{ return({'incremental_strategy': 'insert_overwrite', 'partition_by': [as_of_column]}) }}
    {%- endif -%}
    {{ return({}) }}
{% endmacro %}


{#- The id of the checkpoint at as_of: its UTC time, so the same clock is the
    same checkpoint. A whole second reads cp_20260301T000000Z; a fraction is
    added only when there is one, as six digits of microseconds
    (cp_20260301T000000.500000Z), so two checkpoints less than a second apart
    never share an id. The runner makes the same text (Settings.checkpoint_id). -#}
{% macro checkpoint_id() -%}
    {{ adapter.dispatch('format_checkpoint_id', 'refund_recon')(as_of_literal()) }}
{%- endmacro %}

{#- checkpoint_id() as a column of a mart: one value for every row, computed
    once per statement. A scalar subquery: PostgreSQL's to_char is stable, not
    immutable, so the bare expression would run on every row (millions in the
    audit trail); DuckDB and Spark fold either form to a literal. -#}
{% macro checkpoint_id_constant() -%}
    cast((select {{ checkpoint_id() }}) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro default__format_checkpoint_id(as_of) -%}
    'cp_' || to_char({{ as_of }}, 'YYYYMMDD"T"HH24MISS')
    || case when to_char({{ as_of }}, 'US') = '000000' then '' else '.' || to_char({{ as_of }}, 'US') end
    || 'Z'
{%- endmacro %}

{% macro duckdb__format_checkpoint_id(as_of) -%}
    'cp_' || strftime({{ as_of }}, '%Y%m%dT%H%M%S')
    || case when strftime({{ as_of }}, '%f') = '000000' then '' else '.' || strftime({{ as_of }}, '%f') end
    || 'Z'
{%- endmacro %}

{% macro spark__format_checkpoint_id(as_of) -%}
    'cp_' || date_format({{ as_of }}, "yyyyMMdd'T'HHmmss")
    || case when date_format({{ as_of }}, 'SSSSSS') = '000000' then '' else '.' || date_format({{ as_of }}, 'SSSSSS') end
    || 'Z'
{%- endmacro %}


{#- A hash of an int_input_rows row's content, what staging read of it (not
    its file or row number; a null part as ''): fct_checkpoint_sources counts
    the distinct ones, where a batch appended again or a file's rows exported
    again in new bytes add rows, not distinct rows. A collision can only make
    two rows one, so a delivery looks less new, never more. -#}
{% macro input_row_content_hash(alias) %}
    {{- return(adapter.dispatch('input_row_content_hash', 'refund_recon')(alias, input_row_content_parts(alias))) -}}
{% endmacro %}

{% macro input_row_content_parts(alias) %}
    {%- set parts = [] -%}
    {%- for column in ['record_id', 'order_id', 'processor_refund_id', 'product_name', 'raw_status', 'recorded_at',
                       'received_at', 'amount_text', 'currency', 'rejection_reason'] -%}
        {%- do parts.append("coalesce(cast(" ~ alias ~ "." ~ column ~ " as " ~ dbt.type_string() ~ "), '')") -%}
    {%- endfor -%}
    {{- return(parts) -}}
{% endmacro %}

{% macro default__input_row_content_hash(alias, parts) %}
    {%- set separated = [] -%}
    {%- for part in parts -%}
        {%- do separated.append(part) -%}
        {%- if not loop.last -%}{%- do separated.append("'|'") -%}{%- endif -%}
    {%- endfor -%}
    {{- return(dbt.hash(dbt.concat(separated))) -}}
{% endmacro %}

{#- DuckDB's 64-bit hash of the parts (not md5 of their text): 4M input rows
    at 1M refunds in 0.6 s instead of 2.1 s, the same distinct counts. -#}
{% macro duckdb__input_row_content_hash(alias, parts) %}
    {{- return("hash(" ~ parts | join(", ") ~ ")") -}}
{% endmacro %}
