{{
    config(
        materialized=incremental_or_table(),
        unique_key='identifier',
        incremental_strategy='delete+insert',
        on_schema_change='sync_all_columns',
        post_hook="{{ delete_identifiers_gone_from_graph() }}"
    )
}}
-- Connected components of the identifier graph: every identifier gets the smallest identifier it
-- is transitively linked to as its cluster label (A~B by email, B~C by phone => A, B, C together).
--
-- Min-label propagation with pointer jumping, unrolled into a fixed number of rounds so that it
-- runs on any SQL engine (no recursive CTEs). Each round costs one pass over the edges; pointer
-- jumping makes the rounds needed grow with log(diameter), not the diameter. The data test
-- `assert_identity_clusters_converged` fails if the rounds were not enough; raise the
-- `identity_iterations` var then.
--
-- Incremental: only the components the graph changed in are propagated again. A node changed when
-- its set of neighbours did (its adjacency fingerprint differs from the stored one, or it is new,
-- or it is gone). The subgraph of the changed nodes plus every node of their old components is
-- closed under the current edges (an unchanged edge joins two nodes of one old component; a new or
-- removed edge changes both its ends), so propagating over it gives the labels a full refresh gives.
{#- Spark inlines CTEs, and each round refers to the one before twice, so its plan doubles per
    round (12 rounds ran Spark's analyser out of memory); it gets its own, smaller number. -#}
{%- set rounds = (var('identity_iterations_spark') if target.type == 'spark' else var('identity_iterations')) | int %}

with all_edges as {{ materialized_cte() }} (

    select identifier_a as node, identifier_b as neighbour from {{ ref('int_identifiers_linked') }}
    union
    select identifier_b as node, identifier_a as neighbour from {{ ref('int_identifiers_linked') }}

),

adjacency as {{ materialized_cte() }} (

    select node, {{ adjacency_fingerprint('neighbour') }} as adjacency_fingerprint
    from all_edges
    group by node

),
{% if is_incremental() %}
{#- A table built before the fingerprint existed has nothing to compare with: every node counts as
    changed, which recomputes all of it once. -#}
{%- set fingerprinted = adapter.get_columns_in_relation(this) | selectattr('name', 'equalto', 'adjacency_fingerprint')
                        | list | length > 0 if execute else true %}
changed_nodes as {{ materialized_cte() }} (

    select coalesce(adjacency.node, existing.identifier) as node
    from adjacency
    full outer join {{ this }} as existing
        on adjacency.node = existing.identifier
    where
        adjacency.node is null
        or existing.identifier is null
        or {% if fingerprinted %}adjacency.adjacency_fingerprint <> existing.adjacency_fingerprint{% else %}true{% endif %}

),

affected_nodes as {{ materialized_cte() }} (

    select node from changed_nodes
    union
    select existing.identifier as node
    from {{ this }} as existing
    where existing.cluster_label in (
        select old.cluster_label
        from {{ this }} as old
        inner join changed_nodes on old.identifier = changed_nodes.node
    )

),

edges as {{ materialized_cte() }} (

    select all_edges.node, all_edges.neighbour
    from all_edges
    inner join affected_nodes on all_edges.node = affected_nodes.node

),
{% else %}
edges as (

    select node, neighbour from all_edges

),
{% endif %}
round_0 as {{ materialized_cte() }} (

    select node, min(node) as label
    from edges
    group by node

),
{% for i in range(1, rounds + 1) %}
-- Round {{ i }}: take the smallest label among my neighbours, then jump to that label's label.
propagated_{{ i }} as {{ materialized_cte() }} (

    select edges.node, min(round_{{ i - 1 }}.label) as label
    from edges
    inner join round_{{ i - 1 }}
        on edges.neighbour = round_{{ i - 1 }}.node
    group by edges.node

),

round_{{ i }} as {{ materialized_cte() }} (

    select
        p.node,
        case when jumped.label < p.label then jumped.label else p.label end as label
    from propagated_{{ i }} as p
    inner join propagated_{{ i }} as jumped
        on p.label = jumped.node

),
{% endfor %}

labelled as (

    select
        round_{{ rounds }}.node as identifier,
        round_{{ rounds }}.label as cluster_label,
        adjacency.adjacency_fingerprint
    from round_{{ rounds }}
    inner join adjacency
        on round_{{ rounds }}.node = adjacency.node

)

select identifier, cluster_label, adjacency_fingerprint from labelled
{% if is_incremental() %}
-- Nodes that left the graph: a NULL label marks them, and the post-hook deletes them.
union all
select
    changed_nodes.node as identifier,
    cast(null as {{ dbt.type_string() }}) as cluster_label,
    cast(null as {{ dbt.type_string() }}) as adjacency_fingerprint
from changed_nodes
left join adjacency on changed_nodes.node = adjacency.node
where adjacency.node is null
{% endif %}
