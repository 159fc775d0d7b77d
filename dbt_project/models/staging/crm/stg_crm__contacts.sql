{{
    config(
        materialized=incremental_or_table(),
        unique_key='contact_id',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_rows_of_invisible_loads() }}"
    )
}}
with source as (

    {{ visible_rows_to_stage(source('crm', 'crm_contacts'), 'contact_id') }}

),

renamed as (

    select
        -- ids
        trim(contact_id) as contact_id,
        nullif(trim(secondary_id), '') as secondary_id,
        nullif(trim(account_id), '') as account_id,

        -- strings
        nullif(trim(first_name), '') as first_name,
        nullif(trim(last_name), '') as last_name,
        {{ normalize_email('email') }} as email,
        {{ normalize_phone('phone') }} as phone,
        {{ snake_label('lifecycle_stage') }} as lifecycle_stage,
        {{ snake_label('lead_status') }} as lead_status,
        {{ snake_label('original_source') }} as acquisition_channel,
        nullif(trim(original_source_detail_1), '') as acquisition_source_detail,
        nullif(trim(original_source_detail_2), '') as acquisition_campaign,
        nullif(trim(company_name), '') as company_name,
        nullif(trim(contract_type), '') as contract_type,

        -- booleans
        is_churned as churned_flag,

        -- timestamps (UTC)
        created_at,
        updated_at,
        became_customer_at,
        cancelled_at,

        -- lineage
        _load_id,
        _source_file,
        _source_row

    from source

),

deduplicated as (

    {{ latest_version('renamed', ['contact_id'],
        ['updated_at desc nulls last', '_load_id desc', '_source_row desc']) }}

)

select
    contact_id,
    secondary_id,
    account_id,
    company_name,
    first_name,
    last_name,
    email,
    phone,
    lifecycle_stage,
    lead_status,
    acquisition_channel,
    acquisition_source_detail,
    acquisition_campaign,
    contract_type,
    created_at,
    updated_at,
    became_customer_at,
    cancelled_at,
    -- Churned: a cancellation date, or an explicit churn flag for exports that carry no dates.
    cancelled_at is not null or coalesce(churned_flag, false) as is_churned,
    churned_flag is not null as has_churn_flag,
    _load_id,
    _source_file,
    _source_row
from deduplicated
