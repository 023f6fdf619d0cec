{#-
    The select list that turns an input table, whatever its header case,
    spacing or column order, into the contract's columns, all as text.
    Header names match case-insensitively (spaces and dashes read as
    underscores); extra columns are ignored; a missing optional column is a
    typed null; a missing required column stops the run with an error naming
    the input and the column. `aliases` renames a column on the way out (a
    header that is a reserved word, such as Shopify's `authorization`).
-#}
{% macro refund_input_columns(relation, input_name, required, optional, aliases={}) %}
    {%- do check_refund_input_settings() -%}
    {%- set wanted = (required + optional) | unique | list -%}
    {%- if not execute -%}
        {%- set found = {} -%}
    {%- elif flag_var('refund_recon_lint', false) -%}
        {#- sqlfluff compiles every model, shapes whose tables this machine
            does not have included: take every column as present. -#}
        {%- set found = {'_source_row_number': '_source_row_number', '_source_file': '_source_file'} -%}
        {%- for name in wanted -%}{%- do found.update({name: name}) -%}{%- endfor -%}
    {%- else -%}
        {%- set found = {} -%}
        {%- for column in adapter.get_columns_in_relation(relation) -%}
            {%- do found.update({normalized_column_name(column.name): column.name}) -%}
        {%- endfor -%}
        {%- set missing = [] -%}
        {%- for name in required if name not in found -%}
            {%- do missing.append(name) -%}
        {%- endfor -%}
        {%- if missing -%}
            {%- set headers = [] -%}
            {%- for key in found if not key.startswith('_source_') -%}{%- do headers.append(found[key]) -%}{%- endfor -%}
            {{ refund_recon_fail(
                "input '" ~ input_name ~ "' (" ~ refund_input_location(relation, input_name) ~ ") is missing required column"
                ~ ("s " if missing | length > 1 else " ") ~ "'" ~ (missing | join("', '")) ~ "'. "
                ~ "Columns found: " ~ (headers | join(', ') if headers else 'none') ~ "."
            ) }}
        {%- endif -%}
    {%- endif %}
    {% if '_source_row_number' in found -%}
        cast({{ adapter.quote('_source_row_number') }} as {{ dbt.type_bigint() }}) as source_row_number,
    {%- else -%}
        {#- A warehouse table has no file order: number rows by their content. -#}
        {%- set order_columns = [] -%}
        {%- for name in wanted if name in found -%}{%- do order_columns.append(adapter.quote(found[name])) -%}{%- endfor %}
        cast(row_number() over (order by {{ order_columns | join(', ') if order_columns else '1' }}) as {{ dbt.type_bigint() }}) as source_row_number,
    {%- endif %}
    {% if '_source_file' in found -%}
        cast({{ adapter.quote('_source_file') }} as {{ dbt.type_string() }}) as source_file,
    {%- else -%}
        cast('{{ relation }}' as {{ dbt.type_string() }}) as source_file,
    {%- endif %}
    {%- for name in wanted %}
        {% if name in found -%}
        cast({{ adapter.quote(found[name]) }} as {{ dbt.type_string() }}) as {{ aliases.get(name, name) }}
        {%- else -%}
        cast(null as {{ dbt.type_string() }}) as {{ aliases.get(name, name) }}
        {%- endif -%}
        {{- ',' if not loop.last }}
    {%- endfor %}
{%- endmacro %}


{#- A header as the contract names it: BOM and spaces trimmed, camelCase,
    spaces, dashes, dots and brackets to snake_case ('pspReference',
    'amount.value' and Adyen's report header 'Gross Debit (GC)' read as
    psp_reference, amount_value and gross_debit_gc), lower case; a leading
    underscore (_fivetran_synced) is kept. -#}
{% macro normalized_column_name(name) %}
    {%- set name = name | replace('\ufeff', '') | trim -%}
    {%- set name = modules.re.sub('([a-z0-9])([A-Z])', '\\1_\\2', name) | lower -%}
    {%- set name = modules.re.sub('[ .\\-_()\\[\\]/]+', '_', name) -%}
    {{- return(name.rstrip('_') if name.rstrip('_') else name) -}}
{% endmacro %}


{% macro refund_input_location(relation, input_name) %}
    {%- if target.type == 'duckdb' and flag_var('read_inputs_from_files', true) -%}
        {#- The files the hook's view reads (the table var or an Airbyte name
            may have chosen another file than input_name). -#}
        {%- set files = run_query('select distinct _source_file from ' ~ relation ~ ' order by 1 limit 5').columns[0].values() | list -%}
        {{- return(files | join(', ') if files else duckdb_refund_input_files(input_name) | join(', ')) -}}
    {%- elif target.type == 'spark' and flag_var('read_inputs_from_files', true) -%}
        {{- return(spark_refund_input_files(input_name) | map(attribute='path') | join(', ')) -}}
    {%- endif -%}
    {{- return('table ' ~ relation) -}}
{% endmacro %}
