{#- The MetricFlow time spine: one row per calendar day from 2020-01-01 to
    2035-12-31, the days metrics are laid out on (refund dates, checkpoint
    dates). Built with dbt's cross-database date_spine macro, so it runs on
    DuckDB and PostgreSQL alike. -#}

with

days as (

    {{ dbt.date_spine(
        datepart='day',
        start_date="cast('2020-01-01' as date)",
        end_date="cast('2036-01-01' as date)",
    ) }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
