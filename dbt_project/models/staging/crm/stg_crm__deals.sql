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

    select raw_deals.*
    from {{ source('crm', 'crm_deals') }} as raw_deals
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_deals._load_id = loads.load_id
    where
        loads.is_visible
        -- A row without its key (only in a load released despite its failed not_null check) cannot
        -- be told apart from other such rows: it stays in raw (macros/incremental.sql).
        and raw_deals.deal_id is not null
    {% if is_incremental() %}
        and trim(raw_deals.deal_id) in (
            {{ staging_keys_to_refresh(source('crm', 'crm_deals'), 'trim(deal_id)', 'deal_id') }}
        )
    {% endif %}

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
