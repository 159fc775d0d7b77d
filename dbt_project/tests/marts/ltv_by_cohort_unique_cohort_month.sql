-- One row per cohort and month since acquisition.
select cohort_month, months_since_acquisition, count(*) as rows_per_key
from {{ ref('ltv_by_cohort') }}
group by cohort_month, months_since_acquisition
having count(*) > 1
