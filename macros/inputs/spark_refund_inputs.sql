{#-
    The on-run-start hook on Apache Spark: the same files as on DuckDB
    (<data_dir>/<refund_file>.csv or .parquet, or a folder <refund_file>/ of
    delivery files), each exposed under the name its source gives. Spark's
    readers are tables: one external table per input over the file (CSV
    columns all text: Spark infers no types unless asked), then a view that
    adds the row's position in its file and the file's path, as the DuckDB
    reader does. Spark runs one statement per call, so the hook runs them
    itself and returns a no-op.
-#}
{% macro spark__register_refund_inputs() %}
    {%- if not execute or not flag_var('read_inputs_from_files', true) -%}
        {{ return('select 1 as refund_inputs_are_tables') }}
    {%- endif -%}
    {%- set schemas = [] -%}
    {%- set recorded = [] -%}
    {%- for node in graph.sources.values() | sort(attribute='unique_id') if node.package_name == project_name -%}
        {%- set refund_file = (node.config.get('meta') or node.meta or {}).get('refund_file') -%}
        {%- if refund_file -%}
            {%- for name in [node.schema, node.identifier] if not modules.re.match('^[A-Za-z_][A-Za-z0-9_]*$', name) -%}
                {{ refund_recon_fail("source " ~ node.source_name ~ "." ~ node.name ~ ": schema and table name must be plain identifiers on Spark, got '" ~ name ~ "'") }}
            {%- endfor -%}
            {%- if node.schema not in schemas -%}
                {%- do run_query('create schema if not exists ' ~ node.schema) -%}
                {%- do schemas.append(node.schema) -%}
            {%- endif -%}
            {%- set files = spark_refund_input_files(refund_file) -%}
            {%- for file in files -%}
                {%- do recorded.append(refund_input_file_row(refund_input_system(node.source_name), refund_file, file)) -%}
            {%- endfor -%}
            {%- set repeats = files | selectattr('status', 'equalto', 'repeat') | map(attribute='path') | list -%}
            {%- set file_table = node.schema ~ '.' ~ node.identifier ~ '__file' -%}
            {%- do run_query('drop view if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
            {%- do run_query('drop table if exists ' ~ file_table) -%}
            {%- do run_query('create table ' ~ file_table ~ ' ' ~ spark_refund_input_reader(files | map(attribute='path') | list)) -%}
            {#- A file whose content another file of this input holds is not read (a repeat). -#}
            {%- do run_query(
                'create view ' ~ node.schema ~ '.' ~ node.identifier ~ ' as select * from ('
                ~ spark_refund_input_numbered(file_table, files[0].path.endswith('.parquet')) ~ ') as numbered'
                ~ ((" where _source_file not in ('" ~ repeats | join("', '") ~ "')") if repeats else '')
            ) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set files_table = refund_input_files_relation() -%}
    {%- do run_query('create schema if not exists ' ~ files_table.rsplit('.', 1)[0]) -%}
    {%- do run_query('drop table if exists ' ~ files_table) -%}
    {%- do run_query(
        'create table ' ~ files_table ~ ' (system_name string, input_name string, file_name string, '
        ~ 'content_md5 string, size_bytes bigint, status string, same_content_as string) using parquet'
    ) -%}
    {%- if recorded -%}
        {%- do run_query('insert into ' ~ files_table ~ ' values\n' ~ recorded | join(',\n')) -%}
    {%- endif -%}
    {{ return('select 1 as refund_inputs_registered') }}
{% endmacro %}


{#- `using csv|parquet options (...)` over the file, or over the delivery
    files of one folder (read together: Spark reads each file's header and
    matches columns by position, so the files of one folder must share
    their header). -#}
{% macro spark_refund_input_reader(files) %}
    {%- set path = files[0] if files | length == 1 else files[0].rsplit('/', 1)[0] ~ '/*.' ~ files[0].rsplit('.', 1)[1] -%}
    {%- if files[0].endswith('.parquet') -%}
        {{- return("using parquet options (path '" ~ path ~ "')") -}}
    {%- endif -%}
    {#- multiLine keeps quoted line breaks inside a field (and reads each
        file whole, in order); PERMISSIVE pads a short row with nulls, whose
        missing values then reject it. -#}
    {{- return(
        "using csv options (path '" ~ path ~ "', header 'true', multiLine 'true', quote '\"', escape '\"', "
        ~ "mode 'PERMISSIVE', encoding '" ~ input_encoding() ~ "')"
    ) -}}
{% endmacro %}


{#- Row 1 is the first data row of its file. Parquet carries each row's
    index; a CSV file is read whole by one task (multiLine), in file order,
    so the increasing id follows the file. The file is its path as the data
    folder lists it: Spark's _metadata.file_path is a URI (a space is %20, a
    plus sign stays +), decoded here. -#}
{% macro spark_refund_input_numbered(file_table, is_parquet) %}
    {%- set order = '_metadata.row_index' if is_parquet else 'monotonically_increasing_id()' -%}
    {{- return(
        'select row_number() over (partition by _metadata.file_path order by ' ~ order ~ ') as _source_row_number, '
        ~ "url_decode(replace(regexp_replace(_metadata.file_path, '^file:', ''), '+', '%2B')) as _source_file, * from "
        ~ file_table
    ) -}}
{% endmacro %}


{#- The file, or the delivery files, that hold `input_name` in the data
    folder, listed by Spark's own file source (a glob over the four places
    an input may be), each with its content's md5 and its size, as on DuckDB
    (duckdb_refund_input_discovery): a dict of path, name (relative to the
    data folder), md5, size and status (read, or repeat with same_as: its
    content is another file's of this input). Spark fails with
    PATH_NOT_FOUND naming the pattern when there is none. -#}
{% macro spark_refund_input_files(input_name) %}
    {%- set base = refund_data_dir() ~ '/' ~ input_name -%}
    {%- if "'" in base or '`' in base or '{' in base or '*' in base -%}
        {{ refund_recon_fail("input path " ~ base ~ " contains a quote, backtick, brace or star") }}
    {%- endif -%}
    {%- set pattern = base ~ '{.csv,.parquet,/*.csv,/*.parquet}' -%}
    {%- set listed = run_query(
        "select regexp_replace(path, '^file:', '') as file, md5(content) as content_md5, length as size_bytes "
        ~ "from binaryFile.`" ~ pattern ~ "` order by file"
    ) -%}
    {%- set found = [] -%}
    {%- set deliveries = [] -%}
    {%- for row in listed -%}
        {%- if "'" in row[0] or '\\' in row[0] -%}
            {{ refund_recon_fail("input file " ~ row[0] ~ " has a quote or backslash in its name") }}
        {%- endif -%}
        {%- set in_folder = row[0].rsplit('/', 1)[0].endswith('/' ~ input_name) -%}
        {%- set start = row[0].rfind('/' ~ input_name ~ ('/' if in_folder else '.')) + 1 -%}
        {%- do (deliveries if in_folder else found).append(
            {'path': row[0], 'name': row[0][start:], 'md5': row[1], 'size': row[2] | int}
        ) -%}
    {%- endfor -%}
    {%- if found | length > 1 or (found and deliveries) -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' is ambiguous: " ~ ((found | map(attribute='path') | list) + ([base ~ "/"] if deliveries else [])) | join(' and ') ~ " exist; keep one") }}
    {%- endif -%}
    {%- set kinds = [] -%}
    {%- for file in deliveries if file.path.rsplit('.', 1)[1] not in kinds -%}{%- do kinds.append(file.path.rsplit('.', 1)[1]) -%}{%- endfor -%}
    {%- if kinds | length > 1 -%}
        {{ refund_recon_fail("input folder " ~ base ~ "/ mixes CSV and Parquet delivery files: Spark reads a folder with one reader, keep one kind") }}
    {%- endif -%}
    {%- set first_with = {} -%}
    {%- for file in found or deliveries -%}
        {%- if file.md5 in first_with -%}
            {%- do file.update({'status': 'repeat', 'same_as': first_with[file.md5]}) -%}
        {%- else -%}
            {%- do file.update({'status': 'read'}) -%}
            {%- do first_with.update({file.md5: file.name}) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found or deliveries) }}
{% endmacro %}
