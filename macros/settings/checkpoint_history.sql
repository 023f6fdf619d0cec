{#-
    The checkpoint history models are incremental and never fully refreshed:
    history is the record of what each checkpoint saw. Re-running a checkpoint
    for the same as_of replaces that checkpoint's rows, so a re-run adds
    nothing twice; older and later checkpoints are left as they are.
-#}
{% macro replace_current_checkpoint(as_of_column) %}
    {%- set existing = load_relation(this) -%}
    {%- if existing is not none -%}
        delete from {{ existing }} where {{ as_of_column }} = {{ as_of_literal() }}
    {%- else -%}
        select 1 as nothing_to_replace
    {%- endif -%}
{% endmacro %}


{#- The id of the checkpoint at as_of: its UTC time, so the same clock is the
    same checkpoint. -#}
{% macro checkpoint_id() -%}
    {{ adapter.dispatch('format_checkpoint_id', 'refund_recon')(as_of_literal()) }}
{%- endmacro %}

{% macro default__format_checkpoint_id(as_of) -%}
    'cp_' || to_char({{ as_of }}, 'YYYYMMDD"T"HH24MISS"Z"')
{%- endmacro %}

{% macro duckdb__format_checkpoint_id(as_of) -%}
    'cp_' || strftime({{ as_of }}, '%Y%m%dT%H%M%SZ')
{%- endmacro %}
