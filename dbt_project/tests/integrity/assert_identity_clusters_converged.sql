-- Label propagation ran enough rounds: linked identifiers always share a cluster.
-- If this fails, raise the identity_iterations var (see DECISIONS.md, "Identity resolution").
{{ config(meta={'dagster': {'ref': {'name': 'int_identifiers_clustered'}}}) }}
select
    edges.identifier_a,
    edges.identifier_b,
    a.cluster_label as label_a,
    b.cluster_label as label_b
from {{ ref('int_identifiers_linked') }} as edges
inner join {{ ref('int_identifiers_clustered') }} as a
    on edges.identifier_a = a.identifier
inner join {{ ref('int_identifiers_clustered') }} as b
    on edges.identifier_b = b.identifier
where a.cluster_label <> b.cluster_label
