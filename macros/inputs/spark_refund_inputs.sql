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
            {%- set file_table = node.schema ~ '.' ~ node.identifier ~ '__file' -%}
            {%- do run_query('drop view if exists ' ~ node.schema ~ '.' ~ node.identifier) -%}
            {%- do run_query('drop table if exists ' ~ file_table) -%}
            {%- do run_query('create table ' ~ file_table ~ ' ' ~ spark_refund_input_reader(files)) -%}
            {%- do run_query(
                'create view ' ~ node.schema ~ '.' ~ node.identifier ~ ' as '
                ~ spark_refund_input_numbered(file_table, files[0].endswith('.parquet'))
            ) -%}
        {%- endif -%}
    {%- endfor -%}
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
    so the increasing id follows the file. -#}
{% macro spark_refund_input_numbered(file_table, is_parquet) %}
    {%- set order = '_metadata.row_index' if is_parquet else 'monotonically_increasing_id()' -%}
    {{- return(
        'select row_number() over (partition by _metadata.file_path order by ' ~ order ~ ') as _source_row_number, '
        ~ "regexp_replace(_metadata.file_path, '^file:', '') as _source_file, * from " ~ file_table
    ) -}}
{% endmacro %}


{#- The file, or the delivery files, that hold `input_name` in the data
    folder, listed by Spark's own file source (a glob over the four places
    an input may be). Spark fails with PATH_NOT_FOUND naming the pattern
    when there is none. -#}
{% macro spark_refund_input_files(input_name) %}
    {%- set base = refund_data_dir() ~ '/' ~ input_name -%}
    {%- if "'" in base or '`' in base or '{' in base or '*' in base -%}
        {{ refund_recon_fail("input path " ~ base ~ " contains a quote, backtick, brace or star") }}
    {%- endif -%}
    {%- set pattern = base ~ '{.csv,.parquet,/*.csv,/*.parquet}' -%}
    {%- set listed = run_query(
        "select regexp_replace(path, '^file:', '') as file from binaryFile.`" ~ pattern ~ "` order by file"
    ).columns[0].values() | list -%}
    {%- set found = [] -%}
    {%- set deliveries = [] -%}
    {%- for file in listed -%}
        {%- do (deliveries if file.rsplit('/', 1)[0].endswith('/' ~ input_name) else found).append(file) -%}
    {%- endfor -%}
    {%- if found | length > 1 or (found and deliveries) -%}
        {{ refund_recon_fail("input '" ~ input_name ~ "' is ambiguous: " ~ ((found + [base ~ "/"]) if deliveries else found) | join(' and ') ~ " exist; keep one") }}
    {%- endif -%}
    {%- set kinds = [] -%}
    {%- for file in deliveries if file.rsplit('.', 1)[1] not in kinds -%}{%- do kinds.append(file.rsplit('.', 1)[1]) -%}{%- endfor -%}
    {%- if kinds | length > 1 -%}
        {{ refund_recon_fail("input folder " ~ base ~ "/ mixes CSV and Parquet delivery files: Spark reads a folder with one reader, keep one kind") }}
    {%- endif -%}
    {{ return(found or deliveries) }}
{% endmacro %}
