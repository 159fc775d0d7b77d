-- The time spine MetricFlow requires (dbt 1.9+): one row per UTC calendar day. MetricFlow joins to
-- it for cumulative metrics, time offsets and filling empty periods; plain monthly queries do not
-- use it. From the var metricflow_time_spine_start (2015-01-01) to the as-of day (the as_of_date
-- var, else the newest interaction): a spine running into the future would make cumulative metrics
-- repeat their last value up to its end. At most 10,000 days (date_spine). Portable SQL: the
-- project's date_spine macro (a digits cross join and dbt.dateadd), no generate_series.
select date_day
from (
    {{ date_spine("'" ~ var('metricflow_time_spine_start', '2015-01-01') ~ "'", as_of_timestamp()) }}
) as days
