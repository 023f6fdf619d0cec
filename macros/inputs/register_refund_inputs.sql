{#-
    on-run-start hook. On DuckDB the inputs are files: every enabled source
    table with a `refund_file` meta (the generic inputs, the tables of each
    enabled shape) is read from <data_dir>/<refund_file>.csv or .parquet into
    a view named as the source says, with the row's position in the file, so
    every later error can name file and row. On a warehouse the inputs are
    tables already and nothing is done.
-#}
{% macro register_refund_inputs() %}
    {%- do check_refund_input_settings() -%}
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
        ~ 'begin return value::timestamptz; exception when others then return null; end; $fn$;\n'
        ~ 'create or replace function ' ~ target.schema ~ '.refund_recon_try_jsonb(value text) '
        ~ 'returns jsonb language plpgsql immutable as $fn$ '
        ~ 'begin return value::jsonb; exception when others then return null; end; $fn$'
    ) }}
{% endmacro %}

{% macro duckdb__register_refund_inputs() %}
    {%- if not execute or not flag_var('read_inputs_from_files', true) -%}
        {{ return('select 1 as refund_inputs_are_tables') }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') if node.package_name == project_name -%}
        {%- set refund_file = (node.config.get('meta') or node.meta or {}).get('refund_file') -%}
        {%- if refund_file -%}
            {%- for name in [node.schema, node.identifier] if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{ refund_recon_fail("source " ~ node.source_name ~ "." ~ node.name ~ ": schema and table name must be plain identifiers on DuckDB, got '" ~ name ~ "'") }}
            {%- endfor -%}
            {%- set schema_statement = 'create schema if not exists ' ~ node.schema -%}
            {%- if schema_statement not in statements -%}
                {%- do statements.append(schema_statement) -%}
            {%- endif -%}
            {%- do statements.append(
                'create or replace view ' ~ node.schema ~ '.' ~ node.identifier ~ ' as '
                ~ duckdb_refund_input_reader(refund_file)
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(';\n') if statements else 'select 1 as no_refund_inputs') }}
{% endmacro %}


{#- select <row number>, <file>, * from the file or the delivery files that
    hold `refund_file`: every column as text, since the staging models parse
    and validate each value themselves. Several delivery files are one
    select per file, unioned by column name. -#}
{% macro duckdb_refund_input_reader(refund_file) %}
    {%- set readers = [] -%}
    {%- for path in duckdb_refund_input_files(refund_file) -%}
        {%- if path.endswith('.parquet') -%}
            {%- set reader = "read_parquet('" ~ path ~ "', file_row_number = true)" -%}
            {%- set row_number = 'file_row_number + 1' -%}
        {%- else -%}
            {%- set size = run_query("select size from read_blob('" ~ path ~ "')").columns[0].values()[0] -%}
            {%- if size == 0 -%}
                {{ refund_recon_fail("input '" ~ refund_file ~ "' (" ~ path ~ ") is empty: expected a header row and data rows") }}
            {%- endif -%}
            {#- A short row is padded with nulls (its missing values then reject
                it), and the serial reader keeps quoted newlines inside a field
                intact: DuckDB's parallel reader cannot do both. -#}
            {%- set reader = "read_csv('" ~ path ~ "', header = true, all_varchar = true, auto_detect = true, "
                ~ "quote = '\"', escape = '\"', null_padding = true, parallel = false, strict_mode = false, "
                ~ "encoding = '" ~ input_encoding() ~ "')" -%}
            {%- set row_number = 'row_number() over ()' -%}
        {%- endif -%}
        {%- do readers.append('select ' ~ row_number ~ ' as _source_row_number, ' ~ "'" ~ path ~ "' as _source_file, * from " ~ reader) -%}
    {%- endfor -%}
    {{ return(readers | join('\nunion all by name\n')) }}
{% endmacro %}


{#- The file that holds `input_name` (a generic input such as
    processor_refunds, or a shape's table such as stripe/refund) in the data
    folder: <input_name>.csv or .parquet, or a folder <input_name>/ of
    delivery files (*.csv, *.parquet; a day's batch each, read in name
    order, together the table). A list of paths, or a clear error. -#}
{% macro duckdb_refund_input_files(input_name) %}
    {%- set data_dir = refund_data_dir() -%}
    {%- set base = data_dir ~ "/" ~ input_name -%}
    {%- set found = run_query(
        "select file from glob('" ~ base ~ ".csv') union all select file from glob('" ~ base ~ ".parquet') order by file"
    ).columns[0].values() | list -%}
    {%- set deliveries = run_query(
        "select file from glob('" ~ base ~ "/*.csv') union all select file from glob('" ~ base ~ "/*.parquet') order by file"
    ).columns[0].values() | list -%}
    {%- if found | length == 0 and deliveries | length == 0 -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' not found: expected " ~ base ~ ".csv or .parquet, or a folder " ~ base ~ "/ of delivery files (set var data_dir or env REFUND_RECON_DATA_DIR)") }}
    {%- elif found | length > 1 or (found and deliveries) -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' is ambiguous: " ~ ((found + [base ~ "/"]) if deliveries else found) | join(' and ') ~ " exist; keep one") }}
    {%- endif -%}
    {%- set files = found or deliveries -%}
    {%- for file in files if "'" in file or ';' in file -%}
        {{ refund_recon_fail("input path " ~ file ~ " contains a quote or semicolon") }}
    {%- endfor -%}
    {{ return(files) }}
{% endmacro %}
