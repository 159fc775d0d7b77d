-- Which loads may reach the marts: loaded, validated (passed, warned or released by an operator),
-- and not replaced by a newer version of the same file. Every staging model joins to this.
with source as (

    select * from {{ source('ops', 'load_manifest') }}

),

renamed as (

    select
        -- ids
        load_id,
        superseded_by as superseded_by_load_id,

        -- strings
        entity,
        source as source_system,
        source_file,
        status as load_status,
        coalesce(validation_status, 'pending') as validation_status,

        -- numerics
        rows_read,
        rows_loaded,
        rows_rejected,

        -- timestamps
        finished_at as loaded_at,
        validated_at,
        released_at,

        -- booleans
        (
            status = 'loaded'
            and validation_status in ('passed', 'warned', 'released')
            and superseded_by is null
        ) as is_visible

    from source

)

select
    *,
    -- When the load became visible to the marts; incremental models pick up later ones.
    case when is_visible then coalesce(released_at, validated_at, loaded_at) end as visible_at
from renamed
