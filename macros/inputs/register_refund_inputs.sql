{#-
    on-run-start hook. On DuckDB the inputs are files: every enabled source
    table with a `refund_file` meta (the generic inputs, the tables of each
    enabled shape) is read from <data_dir>/<refund_file>.csv or .parquet into
    a view named as the source says, with the row's position in the file, so
    every later error can name file and row. On a warehouse the inputs are
    tables already and nothing is done.

    File discovery is literal (docs/running.md "Delivery files"): a folder
    is listed, never globbed with a name, so a name with * ? [ ] is itself
    and nothing else; the extension is case-insensitive (.csv, .csv.gz,
    .parquet); hidden and AppleDouble (._*) files are ignored and listed.
    Each file read is identified by its content (md5): a file repeating
    another of the same input is listed, never read twice. The hook records
    every file in <refund_inputs_schema>.refund_input_files, which
    fct_checkpoint_sources reads to tell new deliveries from repeats.
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
    {#- dbt names every relation with target.database, the catalog name
        dbt-duckdb derives from the file's name. DuckDB gives a file named
        main, temp or system another one (main.duckdb: main_db); profiles.yml
        attaches such a file under that name. A profile that opens a file
        under a name DuckDB does not use would put every relation where no
        other reader finds it: refused. -#}
    {%- if run_query('select count(*) from duckdb_databases() where database_name = '
                     ~ sql_string_literal(target.database)).columns[0].values()[0] == 0 -%}
        {{ refund_recon_fail("the database file " ~ target.path ~ " opens as catalog '"
            ~ run_query('select current_database()').columns[0].values()[0] ~ "', not '" ~ target.database
            ~ "' as the profile names it (database: " ~ target.database ~ "): attach it under the name DuckDB gives it, as profiles.yml does for main.duckdb") }}
    {%- endif -%}
    {%- if run_query("select count(*) from duckdb_functions() where function_name = 'refund_recon_file_md5'"
                     ).columns[0].values()[0] == 0 -%}
        {{ refund_recon_fail("the DuckDB profile lacks the project's SQL functions: add `plugins: [{module: recon_runner.duckdb_functions}]` and `module_paths: [scripts]` to the output, as the committed profiles.yml has (docs/warehouses.md)") }}
    {%- endif -%}
    {%- set statements = [] -%}
    {%- set recorded = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') if node.package_name == project_name -%}
        {%- set meta = node.config.get('meta') or node.meta or {} -%}
        {%- set refund_file = duckdb_refund_input_file_for(node, meta) -%}
        {%- if meta.get('refund_file') -%}
            {%- for name in [node.schema, node.identifier] if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{ refund_recon_fail("source " ~ node.source_name ~ "." ~ node.name ~ ": schema and table name must be plain identifiers on DuckDB, got '" ~ name ~ "'") }}
            {%- endfor -%}
            {#- Catalog-qualified: a database file named like a source schema
                (stripe.duckdb, refund_inputs.duckdb) makes a two-part name
                ambiguous in DuckDB. -#}
            {%- set catalog = duckdb_quoted(node.database or target.database) -%}
            {%- set schema_statement = 'create schema if not exists ' ~ catalog ~ '.' ~ duckdb_quoted(node.schema) -%}
            {%- if schema_statement not in statements -%}
                {%- do statements.append(schema_statement) -%}
            {%- endif -%}
            {%- if refund_file -%}
                {%- set discovery = duckdb_refund_input_discovery(refund_file) -%}
                {%- for file in discovery.files + discovery.ignored -%}
                    {%- do recorded.append(refund_input_file_row(refund_input_system(node.source_name), refund_file, file)) -%}
                {%- endfor -%}
                {%- do statements.append(
                    'create or replace view ' ~ catalog ~ '.' ~ duckdb_quoted(node.schema) ~ '.' ~ duckdb_quoted(node.identifier) ~ ' as '
                    ~ duckdb_refund_input_reader(refund_file, discovery)
                ) -%}
            {%- else -%}
                {#- An optional table (meta refund_optional) that is not in the
                    data folder: no view, and no stale one from an earlier run;
                    the base model reads it only when it exists. -#}
                {%- do statements.append('drop view if exists ' ~ catalog ~ '.' ~ duckdb_quoted(node.schema) ~ '.' ~ duckdb_quoted(node.identifier)) -%}
            {%- endif -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set files_table = refund_input_files_relation() -%}
    {%- do statements.append('create schema if not exists ' ~ files_table.rsplit('.', 1)[0]) -%}
    {%- do statements.append(
        'create or replace table ' ~ files_table ~ ' (system_name varchar, input_name varchar, file_name varchar, '
        ~ 'content_md5 varchar, size_bytes bigint, status varchar, same_content_as varchar)'
    ) -%}
    {%- if recorded -%}
        {%- do statements.append('insert into ' ~ files_table ~ ' values\n' ~ recorded | join(',\n')) -%}
    {%- endif -%}
    {{ return(statements | join(';\n')) }}
{% endmacro %}


{#- The table the hook lists every input file in (DuckDB and Spark reading
    files): one row per file, status read, repeat (same content as another
    file of the same input at this run: not read) or ignored (hidden,
    AppleDouble or not a delivery file). -#}
{% macro refund_input_files_relation() %}
    {%- set schema = identifier_var('refund_inputs_schema', 'refund_inputs') -%}
    {%- if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', schema) -%}
        {{ refund_recon_fail("var refund_inputs_schema must be a plain identifier on " ~ target.type ~ ", got '" ~ schema ~ "'") }}
    {%- endif -%}
    {%- if target.type == 'duckdb' -%}
        {{- return(duckdb_quoted(target.database) ~ '.' ~ duckdb_quoted(schema) ~ '.refund_input_files') -}}
    {%- endif -%}
    {{- return(schema ~ '.refund_input_files') -}}
{% endmacro %}


{#- A DuckDB identifier, double-quoted (quotes doubled). -#}
{% macro duckdb_quoted(name) %}
    {{- return('"' ~ (name | string).replace('"', '""') ~ '"') -}}
{% endmacro %}


{#- Are the inputs files this run (DuckDB or Spark reading the data folder)? -#}
{% macro refund_inputs_are_files() %}
    {{- return(target.type in ('duckdb', 'spark') and flag_var('read_inputs_from_files', true)) -}}
{% endmacro %}


{#- The system a source feeds (its role): a shape's source is named after it. -#}
{% macro refund_input_system(source_name) %}
    {%- set roles = {'shopify': 'storefront', 'stripe': 'processor', 'adyen': 'processor', 'paypal': 'processor',
                     'netsuite': 'erp'} -%}
    {{- return(roles.get(source_name, source_name)) -}}
{% endmacro %}


{#- One row of the files table, as a SQL values tuple. -#}
{% macro refund_input_file_row(system_name, input_name, file) %}
    {%- set cells = [] -%}
    {%- for value in [system_name, input_name, file.name, file.get('md5'), file.get('size'), file.status, file.get('same_as')] -%}
        {%- if value is none -%}
            {%- do cells.append('null') -%}
        {%- elif value is number -%}
            {%- do cells.append(value | string) -%}
        {%- else -%}
            {%- do cells.append(sql_string_literal(value)) -%}
        {%- endif -%}
    {%- endfor -%}
    {{- return('(' ~ cells | join(', ') ~ ')') -}}
{% endmacro %}


{#- A text as a SQL string literal (quotes doubled). -#}
{% macro sql_string_literal(text) %}
    {{- return("'" ~ (text | string).replace("'", "''") ~ "'") -}}
{% endmacro %}


{#- A path as a DuckDB file pattern that matches that path only: DuckDB
    reads every file name as a glob, and has no backslash escape, so each
    * ? [ goes in a bracket class of its own. -#}
{% macro duckdb_literal_path(path) %}
    {{- return(sql_string_literal(path.replace('[', '[[]').replace('*', '[*]').replace('?', '[?]'))) -}}
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
    {%- do duckdb_refund_input_discovery(candidates[0]) -%}
    {{ return(candidates[0]) }}
{% endmacro %}


{#- The files in a folder (full paths, by name), listed literally: the
    folder's own name is escaped, so it may hold * ? [ ] too. DuckDB's
    listing leaves out sub-folders and links it cannot follow (the runner
    refuses those before the build: scripts/recon_runner/checkpoint.py). -#}
{% macro duckdb_folder_files(folder) %}
    {%- set pattern = duckdb_literal_path(folder ~ '/')[:-1] ~ "*'" -%}
    {{ return(run_query('select file from glob(' ~ pattern ~ ') order by file').columns[0].values() | list) }}
{% endmacro %}


{#- What a file name is as a delivery: csv, csv.gz or parquet (the
    extension in any case), hidden (a leading dot: .DS_Store, macOS's
    AppleDouble ._name) or none (not a delivery file). -#}
{% macro delivery_file_kind(name) %}
    {%- if name.startswith('.') -%}
        {{ return('hidden') }}
    {%- endif -%}
    {%- for kind in ['csv.gz', 'csv', 'parquet'] if name.lower().endswith('.' ~ kind) -%}
        {{ return(kind) }}
    {%- endfor -%}
    {{ return(none) }}
{% endmacro %}


{#- Is there a file <input_name>.csv/.csv.gz/.parquet or a folder of them? -#}
{% macro duckdb_refund_input_exists(input_name) %}
    {{ return(duckdb_refund_input_discovery(input_name, required=false).files | length > 0) }}
{% endmacro %}


{#- select <row number>, <file>, * from the files that hold `refund_file`
    (each file read once: a repeat is not read): every column as text,
    since the staging models parse and validate each value themselves.
    Several delivery files are one select per file, unioned by column name. -#}
{% macro duckdb_refund_input_reader(refund_file, discovery=none) %}
    {%- set discovery = discovery or duckdb_refund_input_discovery(refund_file) -%}
    {%- set readers = [] -%}
    {%- for file in discovery.files if file.status == 'read' -%}
        {%- set path = duckdb_literal_path(file.path) -%}
        {%- if file.kind == 'parquet' -%}
            {%- set reader = "read_parquet(" ~ path ~ ", file_row_number = true)" -%}
            {%- set row_number = 'file_row_number + 1' -%}
        {%- else -%}
            {%- if file.size == 0 -%}
                {{ refund_recon_fail("input '" ~ refund_file ~ "' (" ~ file.path ~ ") is empty: expected a header row and data rows") }}
            {%- endif -%}
            {#- A short row is padded with nulls (its missing values then reject
                it), and the serial reader keeps quoted newlines inside a field
                intact: DuckDB's parallel reader cannot do both. -#}
            {%- set reader = "read_csv(" ~ path ~ ", header = true, all_varchar = true, auto_detect = true, "
                ~ "quote = '\"', escape = '\"', null_padding = true, parallel = false, strict_mode = false, "
                ~ "compression = '" ~ ('gzip' if file.kind == 'csv.gz' else 'none') ~ "', "
                ~ "encoding = '" ~ input_encoding() ~ "')" -%}
            {%- set row_number = 'row_number() over ()' -%}
        {%- endif -%}
        {%- do readers.append('select ' ~ row_number ~ ' as _source_row_number, ' ~ sql_string_literal(file.path) ~ ' as _source_file, * from ' ~ reader) -%}
    {%- endfor -%}
    {{ return(readers | join('\nunion all by name\n')) }}
{% endmacro %}


{#- The paths of the files read for `input_name` (repeats left out). -#}
{% macro duckdb_refund_input_files(input_name) %}
    {{ return(duckdb_refund_input_discovery(input_name).files | selectattr('status', 'equalto', 'read') | map(attribute='path') | list) }}
{% endmacro %}


{#- The files that hold `input_name` (a generic input such as
    processor_refunds, or a shape's table such as stripe/refund) in the data
    folder: <input_name>.csv, .csv.gz or .parquet (extension in any case),
    or a folder <input_name>/ of delivery files (a day's batch each, read in
    name order, together the table). {files, ignored}: each file a dict of
    name (relative to the data folder), path, kind, md5, size and status
    (read, or repeat with same_as: its content is another file's of this
    input); ignored are the hidden and non-delivery files of the folder.
    A clear error when there is none (unless not required) or it is
    ambiguous. -#}
{% macro duckdb_refund_input_discovery(input_name, required=true) %}
    {%- set data_dir = refund_data_dir() -%}
    {%- set base = data_dir ~ "/" ~ input_name -%}
    {%- set parent = base.rsplit('/', 1)[0] -%}
    {%- set stem = base.rsplit('/', 1)[-1] -%}
    {%- set found = [] -%}
    {%- for path in duckdb_folder_files(parent) -%}
        {%- set name = path.rsplit('/', 1)[-1] -%}
        {%- set kind = delivery_file_kind(name) -%}
        {%- if kind not in (none, 'hidden') and name[:-(kind | length + 1)] == stem -%}
            {%- do found.append({'path': path, 'kind': kind}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set deliveries = [] -%}
    {%- set ignored = [] -%}
    {%- for path in duckdb_folder_files(base) -%}
        {%- set kind = delivery_file_kind(path.rsplit('/', 1)[-1]) -%}
        {%- if kind in (none, 'hidden') -%}
            {%- do ignored.append({'name': path[data_dir | length + 1:], 'path': path, 'status': 'ignored'}) -%}
        {%- else -%}
            {%- do deliveries.append({'path': path, 'kind': kind}) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if found | length == 0 and deliveries | length == 0 -%}
        {%- if not required -%}
            {{ return({'files': [], 'ignored': ignored}) }}
        {%- endif -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' not found: expected " ~ base ~ ".csv, .csv.gz or .parquet, or a folder " ~ base ~ "/ of delivery files (set var data_dir or env REFUND_RECON_DATA_DIR)") }}
    {%- elif found | length > 1 or (found and deliveries) -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' is ambiguous: " ~ ((found | map(attribute='path') | list) + ([base ~ "/"] if deliveries else [])) | join(' and ') ~ " exist; keep one") }}
    {%- endif -%}
    {%- set files = found or deliveries -%}
    {%- for file in files if "'" in file.path or ';' in file.path -%}
        {{ refund_recon_fail("input path " ~ file.path ~ " contains a quote or semicolon") }}
    {%- endfor -%}
    {%- if not required -%}
        {{ return({'files': files, 'ignored': ignored}) }}
    {%- endif -%}
    {#- The content identity of each file: its md5, so a file sent again
        under any name is known as a repeat. refund_recon_file_md5 (the
        project's dbt-duckdb plugin) reads the file in pieces: DuckDB's
        md5(content) holds a whole file in memory, over memory_limit for a
        file of a few GB. -#}
    {%- set hashes = {} -%}
    {%- set patterns = [] -%}
    {%- for file in files -%}
        {%- do patterns.append(duckdb_literal_path(file.path)) -%}
    {%- endfor -%}
    {%- for row in run_query('select filename, refund_recon_file_md5(filename), size from read_blob([' ~ patterns | join(', ') ~ '])') -%}
        {%- do hashes.update({row[0]: [row[1], row[2]]}) -%}
    {%- endfor -%}
    {%- set first_with = {} -%}
    {%- for file in files -%}
        {%- set identity = hashes.get(file.path) -%}
        {%- if identity is none -%}
            {{ refund_recon_fail("input file " ~ file.path ~ " could not be read") }}
        {%- endif -%}
        {%- do file.update({'name': file.path[data_dir | length + 1:], 'md5': identity[0], 'size': identity[1] | int}) -%}
        {%- if identity[0] in first_with -%}
            {%- do file.update({'status': 'repeat', 'same_as': first_with[identity[0]]}) -%}
        {%- else -%}
            {%- do file.update({'status': 'read'}) -%}
            {%- do first_with.update({identity[0]: file.name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return({'files': files, 'ignored': ignored}) }}
{% endmacro %}


{#- One row per item of a ','-separated list column (fct_checkpoint_sources'
    new_content_md5s). Only the engines that read files (DuckDB, Spark) need it. -#}
{% macro unnest_comma_list(column) %}
    {{- return(adapter.dispatch('unnest_comma_list', 'refund_recon')(column)) -}}
{% endmacro %}

{% macro duckdb__unnest_comma_list(column) -%}
    unnest(string_split({{ column }}, ','))
{%- endmacro %}

{% macro spark__unnest_comma_list(column) -%}
    explode(split({{ column }}, ','))
{%- endmacro %}

{% macro default__unnest_comma_list(column) %}
    {{ refund_recon_fail("content identity of input files is DuckDB and Spark only (" ~ target.type ~ " reads tables)") }}
{% endmacro %}
