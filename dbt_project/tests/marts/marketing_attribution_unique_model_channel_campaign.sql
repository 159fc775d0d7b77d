-- One row per attribution model, channel and campaign.
select attribution_model, channel, campaign, count(*) as rows_per_key
from {{ ref('marketing_attribution') }}
group by attribution_model, channel, campaign
having count(*) > 1
