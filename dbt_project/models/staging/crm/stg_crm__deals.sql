{{
    config(
        materialized=incremental_or_table(),
        unique_key='deal_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
with source as (

    {{ visible_rows_to_stage(source('crm', 'crm_deals'), 'deal_id') }}

),

renamed as (

    select
        -- ids
        trim(deal_id) as deal_id,
        nullif(trim(contact_id), '') as contact_id,
        nullif(trim(account_id), '') as account_id,

        -- strings
        nullif(trim(deal_name), '') as deal_name,
        nullif(trim(pipeline), '') as pipeline,
        {{ snake_label('deal_stage') }} as deal_stage,

        -- numerics
        cast(amount as {{ dbt.type_numeric() }}) as amount,
        upper(nullif(trim(currency), '')) as currency,

        -- booleans
        is_won as won_flag,

        -- timestamps (UTC)
        created_at,
        closed_at,
        updated_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['deal_id'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    deal_id,
    contact_id,
    account_id,
    deal_name,
    pipeline,
    deal_stage,
    amount,
    currency,
    -- An explicit won flag (Salesforce IsWon) decides; otherwise the stage.
    coalesce(won_flag, deal_stage = 'closed_won') as is_won,
    created_at,
    closed_at,
    updated_at,
    _load_id,
    _source_file,
    _source_row
from deduplicated
