{#-
    The three inputs of the generic contract (contracts.md section 1).
-#}
{% macro refund_input_names() %}
    {{ return(['storefront_refunds', 'processor_refunds', 'erp_refund_postings']) }}
{% endmacro %}


{#-
    on-run-start hook. On DuckDB the inputs are files in the data folder:
    point one view per input at <data_dir>/<input>.csv or .parquet, with the
    row's position in the file, so every later error can name file and row.
    On a warehouse the inputs are tables already and nothing is done.
-#}
{% macro register_refund_inputs() %}
    {{ return(adapter.dispatch('register_refund_inputs', 'refund_recon')()) }}
{% endmacro %}

{% macro default__register_refund_inputs() %}
    {{ return('select 1 as refund_inputs_are_tables') }}
{% endmacro %}

{#- Postgres has no try_cast: a small function turns unparseable timestamp
    text into null instead of failing the whole model. -#}
{% macro postgres__register_refund_inputs() %}
    {{ return(
        'create schema if not exists ' ~ target.schema ~ ';\n'
        ~ 'create or replace function ' ~ target.schema ~ '.refund_recon_try_timestamptz(value text) '
        ~ 'returns timestamptz language plpgsql immutable as $fn$ '
        ~ 'begin return value::timestamptz; exception when others then return null; end; $fn$'
    ) }}
{% endmacro %}

{% macro duckdb__register_refund_inputs() %}
    {%- if not execute or not var('read_inputs_from_files', true) -%}
        {{ return('select 1 as refund_inputs_are_tables') }}
    {%- endif -%}
    {%- set schema = var('refund_inputs_schema', 'refund_inputs') -%}
    {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', schema) -%}
        {{ refund_recon_fail("var refund_inputs_schema must be a plain identifier, got '" ~ schema ~ "'") }}
    {%- endif -%}
    {%- set statements = ['create schema if not exists ' ~ schema] -%}
    {%- for input_name in refund_input_names() -%}
        {%- set path = duckdb_refund_input_file(input_name) -%}
        {%- if path.endswith('.parquet') -%}
            {%- set reader = "read_parquet('" ~ path ~ "', file_row_number = true)" -%}
            {%- set row_number = 'file_row_number + 1' -%}
        {%- else -%}
            {%- set size = run_query("select size from read_blob('" ~ path ~ "')").columns[0].values()[0] -%}
            {%- if size == 0 -%}
                {{ refund_recon_fail("input '" ~ input_name ~ "' (" ~ path ~ ") is empty: expected a header row and data rows") }}
            {%- endif -%}
            {#- Every column as text: the staging models parse and validate
                each value themselves, so nothing is coerced here. A short row
                is padded with nulls (its missing values then reject it), and
                the serial reader keeps quoted newlines inside a field intact:
                DuckDB's parallel reader cannot do both. -#}
            {%- set reader = "read_csv('" ~ path ~ "', header = true, all_varchar = true, auto_detect = true, "
                ~ "null_padding = true, parallel = false, strict_mode = false, encoding = '" ~ input_encoding() ~ "')" -%}
            {%- set row_number = 'row_number() over ()' -%}
        {%- endif -%}
        {%- do statements.append(
            'create or replace view ' ~ schema ~ '.' ~ var(input_name ~ '_table', input_name) ~ ' as select '
            ~ row_number ~ ' as _source_row_number, '
            ~ "'" ~ path ~ "' as _source_file, "
            ~ '* from ' ~ reader
        ) -%}
    {%- endfor -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{#- The one file that holds `input_name` in the data folder, or a clear error. -#}
{% macro duckdb_refund_input_file(input_name) %}
    {%- set data_dir = refund_data_dir() -%}
    {%- set found = run_query(
        "select file from glob('" ~ data_dir ~ "/" ~ input_name ~ ".csv') "
        ~ "union all select file from glob('" ~ data_dir ~ "/" ~ input_name ~ ".parquet') order by file"
    ) -%}
    {%- set files = found.columns[0].values() | list -%}
    {%- if files | length == 0 -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' not found: expected " ~ data_dir ~ "/" ~ input_name ~ ".csv or .parquet (set var data_dir or env REFUND_RECON_DATA_DIR)") }}
    {%- elif files | length > 1 -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' is ambiguous: both " ~ (files | join(' and ')) ~ " exist; keep one") }}
    {%- endif -%}
    {%- if "'" in files[0] or ';' in files[0] -%}
        {{ refund_recon_fail("input path " ~ files[0] ~ " contains a quote or semicolon") }}
    {%- endif -%}
    {{ return(files[0]) }}
{% endmacro %}
