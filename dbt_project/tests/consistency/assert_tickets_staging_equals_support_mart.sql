-- Every ticket in staging reaches the support mart once, and no other ticket does.
{{ config(meta={'dagster': {'ref': {'name': 'support_tickets'}}}) }}
select 'staging' as side, count(*) as tickets from {{ ref('stg_support__tickets') }}
having count(*) <> (select count(*) from {{ ref('support_tickets') }})
