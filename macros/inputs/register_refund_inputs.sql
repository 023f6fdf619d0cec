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
        {%- set meta = node.config.get('meta') or node.meta or {} -%}
        {%- set refund_file = duckdb_refund_input_file_for(node, meta) -%}
        {%- if meta.get('refund_file') -%}
            {%- for name in [node.schema, node.identifier] if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{ refund_recon_fail("source " ~ node.source_name ~ "." ~ node.name ~ ": schema and table name must be plain identifiers on DuckDB, got '" ~ name ~ "'") }}
            {%- endfor -%}
            {%- set schema_statement = 'create schema if not exists ' ~ node.schema -%}
            {%- if schema_statement not in statements -%}
                {%- do statements.append(schema_statement) -%}
            {%- endif -%}
            {%- if refund_file -%}
                {%- do statements.append(
                    'create or replace view ' ~ node.schema ~ '.' ~ node.identifier ~ ' as '
                    ~ duckdb_refund_input_reader(refund_file)
                ) -%}
            {%- else -%}
                {#- An optional table (meta refund_optional) that is not in the
                    data folder: no view, and no stale one from an earlier run;
                    the base model reads it only when it exists. -#}
                {%- do statements.append('drop view if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(statements | join(';\n') if statements else 'select 1 as no_refund_inputs') }}
{% endmacro %}


{#- The data-folder name of a source table's file (DuckDB): the folder of
    meta.refund_file and the table's identifier, so a var that renames the
    table (<shape>_<table>_table) names the file that is read. With no such
    var, the names in meta.refund_file_alternatives (Airbyte's `refunds`,
    `transactions`, `order_refunds`, ...) are tried after the default, the
    first that exists winning. None for an optional table (meta
    refund_optional) that is absent; a clear error for a required one. -#}
{% macro duckdb_refund_input_file_for(node, meta) %}
    {%- set refund_file = meta.get('refund_file') -%}
    {%- if not refund_file -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set folder = refund_file.rsplit('/', 1)[0] ~ '/' if '/' in refund_file else '' -%}
    {%- set default_name = refund_file.rsplit('/', 1)[-1] -%}
    {%- if node.identifier != default_name -%}
        {%- set candidates = [folder ~ node.identifier] -%}
    {%- else -%}
        {%- set candidates = [refund_file] -%}
        {%- for name in meta.get('refund_file_alternatives') or [] -%}
            {%- do candidates.append(folder ~ name) -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for candidate in candidates -%}
        {%- if duckdb_refund_input_exists(candidate) -%}
            {{ return(candidate) }}
        {%- endif -%}
    {%- endfor -%}
    {%- if meta.get('refund_optional') -%}
        {{ return(none) }}
    {%- endif -%}
    {#- Not found: the error names the first candidate. -#}
    {%- do duckdb_refund_input_files(candidates[0]) -%}
    {{ return(candidates[0]) }}
{% endmacro %}


{#- Is there a file <input_name>.csv/.parquet or a folder of them? -#}
{% macro duckdb_refund_input_exists(input_name) %}
    {%- set base = refund_data_dir() ~ "/" ~ input_name -%}
    {%- if "'" in base -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set found = run_query(
        "select count(*) from (select file from glob('" ~ base ~ ".csv') union all select file from glob('" ~ base ~ ".parquet') "
        ~ "union all select file from glob('" ~ base ~ "/*.csv') union all select file from glob('" ~ base ~ "/*.parquet'))"
    ).columns[0].values()[0] -%}
    {{ return(found > 0) }}
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
