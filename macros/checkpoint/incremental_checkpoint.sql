{#-
    The incremental daily checkpoint (README "Daily checkpoints"; DECISIONLOG
    "Incremental checkpoint").

    When the inputs are folders of delivery files (DuckDB), a checkpoint reads
    only the deliveries the previous complete checkpoint had not seen, and
    every model recomputes only the refunds those rows can change
    (int_checkpoint_touched_keys). The result is the same as a full build:
    tests/python/test_incremental_checkpoint.py builds N days both ways and
    compares every model.

    A run is incremental only when all of this holds; otherwise every model
    recomputes everything (still a valid checkpoint, just not a cheap one):
      - the target is DuckDB reading input files, and every enabled shape
        maps one raw row to one input row (generic, stripe, adyen, paypal);
      - int_checkpoint_state exists: the previous checkpoint completed;
      - the project's code, seeds and settings are those of that checkpoint
        (checkpoint_fingerprint);
      - as_of has not gone back;
      - every file that checkpoint read is still there, unchanged in size
        and modification time (deliveries are append-only).
-#}

{#- The shapes whose staging rows each come from one raw row, so a new
    delivery changes nothing but its own rows. Shopify and NetSuite join
    several raw tables: a new row in one can change a row of the other. -#}
{% macro checkpoint_incremental_shapes() %}
    {{ return(['generic', 'stripe', 'adyen', 'paypal']) }}
{% endmacro %}


{#- The settings that change what a checkpoint computes (not as_of: the
    clock is handled by the SLA window). A new var that changes results
    belongs here; tests/python/test_incremental_checkpoint.py checks that
    every var the project reads is here or deliberately left out. -#}
{% macro checkpoint_setting_vars() %}
    {{ return([
        'amount_tolerance', 'business_timezone', 'confirmation_sla_minutes', 'data_dir', 'input_encoding',
        'refund_inputs_database', 'refund_inputs_schema',
        'storefront_shapes', 'processor_shapes', 'erp_shapes',
        'storefront_refunds_table', 'processor_refunds_table', 'erp_refund_postings_table',
        'stripe_database', 'stripe_schema', 'stripe_refund_table', 'stripe_order_id_metadata_key',
        'adyen_database', 'adyen_schema', 'adyen_notification_table',
        'paypal_database', 'paypal_schema', 'paypal_refund_table', 'paypal_order_id_field',
        'shopify_database', 'shopify_schema', 'shopify_refund_table', 'shopify_transaction_table',
        'shopify_order_adjustment_table', 'shopify_receipt_refund_id_key',
        'netsuite_database', 'netsuite_schema', 'netsuite_transaction_table',
        'netsuite_transactionaccountingline_table', 'netsuite_account_table',
        'netsuite_accountingperiod_table', 'netsuite_currency_table', 'netsuite_refund_transaction_types',
        'netsuite_refund_id_field', 'netsuite_order_id_field', 'netsuite_reason_code_field',
    ]) }}
{% endmacro %}


{#- A hash of everything but the data and the clock that decides the
    checkpoint's result: every model, macro and seed of the project, the
    settings above and the data folder. -#}
{% macro checkpoint_fingerprint() %}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set parts = [target.type, env_var('REFUND_RECON_DATA_DIR', '')] -%}
    {%- for node in graph.nodes.values() | sort(attribute='unique_id')
        if node.package_name == project_name and node.resource_type in ('model', 'seed') -%}
        {%- do parts.append(node.unique_id ~ '=' ~ node.checksum.checksum) -%}
    {%- endfor -%}
    {%- set project_macros = context[project_name] -%}
    {%- for name in project_macros | sort -%}
        {%- do parts.append(name ~ '=' ~ local_md5(project_macros[name].macro.macro_sql)) -%}
    {%- endfor -%}
    {%- for name in checkpoint_setting_vars() -%}
        {%- do parts.append(name ~ '=' ~ (var(name, '') | string)) -%}
    {%- endfor -%}
    {{ return(local_md5(parts | join('\n'))) }}
{% endmacro %}


{#- The previous complete checkpoint's state table, or none. Looked up, not
    ref'd: it is written last, by int_checkpoint_state, and read first. -#}
{% macro checkpoint_state_relation() %}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set node = graph.nodes.get('model.' ~ project_name ~ '.int_checkpoint_state') -%}
    {%- if node is none -%}
        {{ return(none) }}
    {%- endif -%}
    {{ return(adapter.get_relation(database=node.database, schema=node.schema, identifier=node.alias)) }}
{% endmacro %}


{#- 'incremental' or 'full' for this run (the conditions at the top). Every
    model asks and gets the same answer: the state it reads is written only
    when the whole checkpoint has been built. -#}
{% macro checkpoint_run_mode() %}
    {%- if not execute or target.type != 'duckdb' or not var('read_inputs_from_files', true) -%}
        {{ return('full') }}
    {%- endif -%}
    {%- for role in ['storefront', 'processor', 'erp'] -%}
        {%- for shape in refund_shapes(role) if shape not in checkpoint_incremental_shapes() -%}
            {{ return('full') }}
        {%- endfor -%}
    {%- endfor -%}
    {%- set state = checkpoint_state_relation() -%}
    {%- if state is none -%}
        {{ return('full') }}
    {%- endif -%}
    {%- set check = run_query(
        "select count(*) > 0"
        ~ " and min(state.fingerprint) = '" ~ checkpoint_fingerprint() ~ "'"
        ~ " and max(state.fingerprint) = min(state.fingerprint)"
        ~ " and max(state.as_of) <= " ~ as_of_literal()
        ~ " and count(*) filter (where files.source_file is null or files.size <> state.size"
        ~ " or files.last_modified <> state.last_modified) = 0"
        ~ " from " ~ state ~ " as state"
        ~ " left join " ~ var('refund_inputs_schema', 'refund_inputs') ~ ".refund_input_files as files"
        ~ " on state.source_file = files.source_file"
    ) -%}
    {{ return('incremental' if check.columns[0].values()[0] else 'full') }}
{% endmacro %}


{#- In a model: is this run recomputing only what changed? -#}
{% macro checkpoint_is_incremental() %}
    {#- A unit test has no `this`: it tests the full computation. -#}
    {{ return(this is not none and is_incremental() and checkpoint_run_mode() == 'incremental') }}
{% endmacro %}


{#- The input files the previous complete checkpoint read, as a SQL list of
    literals: a staging model skips them without opening them. -#}
{% macro checkpoint_read_files_list() %}
    {%- set files = run_query('select source_file from ' ~ checkpoint_state_relation() ~ ' order by source_file')
        .columns[0].values() -%}
    {%- set literals = [] -%}
    {%- for file in files -%}{%- do literals.append("'" ~ file ~ "'") -%}{%- endfor -%}
    {#- Never an empty list (invalid SQL) nor null (`not in (null)` keeps no row). -#}
    {{ return('(' ~ (literals | join(', ') if literals else "''") ~ ')') }}
{% endmacro %}


{#- A condition on a staging row: it came from a delivery the previous
    complete checkpoint had not read. -#}
{% macro checkpoint_new_row(source_file_column='source_file') %}
    {{ source_file_column }} not in (select source_file from {{ checkpoint_state_relation() }})
{%- endmacro %}


{#- pre_hook of an incremental model: remove the rows this run recomputes.
    Everything on a full run (`where 1 = 1`: BigQuery wants a where clause); in an incremental run the rows that meet
    `condition` (SQL on the model's columns). The model then appends the
    recomputed rows. -#}
{% macro checkpoint_delete_recomputed(condition) %}
    {%- if not is_incremental() -%}
        {{ return('select 1 as nothing_to_delete') }}
    {%- elif checkpoint_run_mode() != 'incremental' -%}
        {{ return('delete from ' ~ this ~ ' where 1 = 1') }}
    {%- endif -%}
    {{ return('delete from ' ~ this ~ ' where ' ~ condition) }}
{% endmacro %}


{#- The ids of one kind from int_checkpoint_touched_keys (new_processor_refund,
    new_storefront_refund, new_erp_document, processor_refund, erp_candidate):
    a select for `in (...)`. -#}
{% macro touched(kind) -%}
    select touched_id from {{ ref('int_checkpoint_touched_keys') }} where touched_kind = '{{ kind }}'
{%- endmacro %}


{#- The refund keys of int_refunds_matched this run recomputes, as
    (key_system, refund_key), from int_checkpoint_touched_refunds. -#}
{% macro touched_refund_keys() -%}
    select key_system, touched_id as refund_key from {{ ref('int_checkpoint_touched_refunds') }}
    where touched_kind = 'refund'
{%- endmacro %}


{#- The refund keys of one key_system (processor, storefront, erp) this run
    recomputes: their ids. -#}
{% macro touched_refund_ids(key_system) -%}
    select touched_id from {{ ref('int_checkpoint_touched_refunds') }}
    where touched_kind = 'refund' and key_system = '{{ key_system }}'
{%- endmacro %}


{#- The orders whose refunds this run recomputes. -#}
{% macro touched_orders() -%}
    select touched_id from {{ ref('int_checkpoint_touched_refunds') }} where touched_kind = 'order'
{%- endmacro %}


{#- pre_hook of a staging model: on a full run remove every row (all files
    are read again); on an incremental run remove the rows of files the
    previous complete checkpoint did not read (left by a run that failed
    later on), since the model reads those files again. -#}
{% macro checkpoint_delete_unread_rows() %}
    {%- if not is_incremental() -%}
        {{ return('select 1 as nothing_to_delete') }}
    {%- elif checkpoint_run_mode() != 'incremental' -%}
        {{ return('delete from ' ~ this ~ ' where 1 = 1') }}
    {%- endif -%}
    {{ return('delete from ' ~ this ~ ' where ' ~ checkpoint_new_row()) }}
{% endmacro %}


{#- The rows of fct_expected_erp_postings an incremental checkpoint
    recomputes: the touched processor refunds and every refund of a touched
    order or without one (a refund's expected scope counts its order's live
    refunds). `id_column` holds the processor refund id. -#}
{% macro expected_postings_recomputed(id_column) -%}
    order_id is null
    or order_id in ({{ touched_orders() }})
    or {{ id_column }} in ({{ touched_refund_ids('processor') }})
{%- endmacro %}
