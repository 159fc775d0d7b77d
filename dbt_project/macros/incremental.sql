{#- Incremental facts that stay correct when exports are re-sent, released late, superseded by a
    corrected file, or when identity resolution merges two customers.

    An incremental run recomputes only the *affected* source records, in four cases:
      1. the record's latest version comes from a load this table has not seen yet
         (a new export, or a quarantined load an operator just released);
      2. the row in this table came from a load that is no longer visible (superseded);
      3. the record was in a load superseded by one this table has not seen yet: its earlier version
         may be back, and case 2 misses it when the record had no row here (for models that pass
         `superseded_records`, i.e. stg_ops__superseded_records; a superseding load that never gets a
         row here has its predecessor's records recomputed each run: wasted work, never a wrong row);
      4. the record's customer changed (new identifiers linked it to another customer).
    dbt's delete+insert replaces those rows; the post-hook then removes rows whose load is no longer
    visible and that nothing replaced (a record dropped from a corrected export).
    tests/test_incremental.py compares every incremental model with a full refresh on the same data. -#}

{#- The records to recompute, as (source_entity, record_key) pairs. `sources` maps a source entity
    to the staging model and the key expression of its records. A table holding one entity without
    source_entity/record_key columns passes SQL for them over the alias `existing` (`this_entity`,
    `this_key`). -#}
{% macro affected_records(sources, identity_relation, this_entity='existing.source_entity',
                          this_key='existing.record_key', superseded_records=none) -%}
    {%- set visible = "select load_id from " ~ ref('stg_ops__loads') ~ " where is_visible" -%}
    {%- set seen = "select distinct _load_id from " ~ this ~ " where _load_id is not null" -%}
    {% for entity, spec in sources.items() %}
    select '{{ entity }}' as source_entity, {{ spec.key }} as record_key
    from {{ spec.model }}
    where _load_id not in ({{ seen }})
    union
    {% endfor %}
    {% if superseded_records is not none %}
    select source_entity, record_key from {{ superseded_records }}
    where superseded_by_load_id not in ({{ seen }})
        and source_entity in ('{{ sources.keys() | join("', '") }}')
    union
    {% endif %}
    select {{ this_entity }} as source_entity, {{ this_key }} as record_key from {{ this }} as existing
    where existing._load_id not in ({{ visible }})
    union
    select identity.source_entity, identity.record_key
    from {{ this }} as existing
    inner join {{ identity_relation }} as identity
        on {{ this_entity }} = identity.source_entity
        and {{ this_key }} = identity.record_key
    where existing.customer_id is distinct from identity.customer_id
{%- endmacro %}

{#- Post-hook: rows whose load stopped being visible and that no newer version replaced. -#}
{% macro delete_rows_of_invisible_loads() -%}
    {%- if is_incremental() -%}
    delete from {{ this }}
    where _load_id not in (select load_id from {{ ref('stg_ops__loads') }} where is_visible)
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- Post-hook: rows an incremental run writes only as placeholders (touchpoints: one per affected
    record left without a dated event, so that delete+insert also clears its old touchpoints). -#}
{% macro delete_incremental_rows_where(condition) -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where {{ condition }}
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- The growing facts are incremental with delete+insert. Spark's plain parquet tables have no
    delete+insert and `merge` needs Delta or Iceberg jars, so on Spark they build in full each run
    (docs/SPARK.md). -#}
{% macro incremental_or_table() -%}
    {{ return('table' if target.type == 'spark' else 'incremental') }}
{%- endmacro %}

{#- Post-hook of int_identifiers_clustered: identifiers that left the graph come back with a NULL
    label from an incremental run; they are removed here. -#}
{% macro delete_identifiers_gone_from_graph() -%}
    {%- if is_incremental() -%}
    delete from {{ this }} where cluster_label is null
    {%- else -%}
    select 1
    {%- endif -%}
{%- endmacro %}

{#- A fingerprint of the set of values in a group (an identifier's neighbours): equal sets, equal
    fingerprints. Spark's listagg ignores the order clause, hence its own version. On DuckDB, the
    count and the XOR of 64-bit hashes of the (distinct) neighbours: 4x cheaper than sorting and
    hashing the list; two different sets collide with a chance of about 2^-64. -#}
{% macro adjacency_fingerprint(column) -%}
    {{ return(adapter.dispatch('adjacency_fingerprint', 'cx_warehouse')(column)) }}
{%- endmacro %}

{% macro default__adjacency_fingerprint(column) -%}
    {{ dbt.hash(dbt.listagg(column, "'|'", "order by " ~ column)) }}
{%- endmacro %}

{% macro duckdb__adjacency_fingerprint(column) -%}
    cast(count(*) as {{ dbt.type_string() }}) || ':' || cast(bit_xor(hash({{ column }})) as {{ dbt.type_string() }})
{%- endmacro %}

{% macro spark__adjacency_fingerprint(column) -%}
    md5(array_join(array_sort(collect_list({{ column }})), '|'))
{%- endmacro %}

{#- The keys a staging table must deduplicate again: those a visible load it has not seen yet carries
    (a new export, or a quarantined one just released), and those whose current row came from a load
    that stopped being visible (superseded by a corrected file). `raw_key` is an expression over the
    raw table giving the key as staging spells it (or a column every version of a key shares);
    `this_key` is the same over this table. A load whose rows all lost to newer versions is never
    "seen", so its keys are checked again each run: wasted work, never a wrong row. (A CRM that
    exports full snapshots under new names does this: the older snapshot loses every row.)
    A key must not be NULL: `in` never matches NULL, and neither does delete+insert's delete. The
    staging models leave rows without their key in raw, in full refreshes and incremental runs alike.
    Rows already in the table keep the SQL and vars they were built with: after changing a staging
    model or a var it reads (default_phone_country_code, ...), run `dbt build --full-refresh`. -#}
{% macro staging_keys_to_refresh(raw_relation, raw_key, this_key) -%}
    {%- set visible = "select load_id from " ~ ref('stg_ops__loads') ~ " where is_visible" -%}
    select {{ raw_key }} from {{ raw_relation }}
    where _load_id in ({{ visible }})
        and _load_id not in (select distinct _load_id from {{ this }})
    union
    select {{ this_key }} from {{ this }}
    where _load_id not in ({{ visible }})
{%- endmacro %}

{#- The rows of `raw_relation` an incremental staging model reads: those of visible loads and, in an
    incremental run, only those of the keys to refresh (above). `key_column` is the raw column the key
    comes from; ids are trimmed (`trim_key`), as staging spells them. A row without its key (only in
    a load released despite its failed not_null check) cannot be told apart from other such rows: it
    stays in raw. Where the column is not the whole key (email activity's `occurred_at`), rows without
    it are kept and checked again in every run instead (`recheck_null_keys`). -#}
{% macro visible_rows_to_stage(raw_relation, key_column, trim_key=true, recheck_null_keys=false) -%}
    {%- set raw_key = 'trim(' ~ key_column ~ ')' if trim_key else key_column -%}
    select raw_rows.*
    from {{ raw_relation }} as raw_rows
    inner join {{ ref('stg_ops__loads') }} as loads
        on raw_rows._load_id = loads.load_id
    where
        loads.is_visible
    {%- if not recheck_null_keys %}
        and raw_rows.{{ key_column }} is not null
    {%- endif %}
    {%- if is_incremental() %}
        and ({% if recheck_null_keys %}raw_rows.{{ key_column }} is null or {% endif -%}
            {{ 'trim(raw_rows.' ~ key_column ~ ')' if trim_key else 'raw_rows.' ~ key_column }} in (
                {{ staging_keys_to_refresh(raw_relation, raw_key, key_column) }}
            ))
    {%- endif %}
{%- endmacro %}
