-- Connected components of the identifier graph: every identifier gets the smallest identifier it
-- is transitively linked to as its cluster label (A~B by email, B~C by phone => A, B, C together).
--
-- Min-label propagation with pointer jumping, unrolled into a fixed number of rounds so that it
-- runs on any SQL engine (no recursive CTEs). Each round costs one pass over the edges; pointer
-- jumping makes the rounds needed grow with log(diameter), not the diameter. The data test
-- `assert_identity_clusters_converged` fails if the rounds were not enough; raise the
-- `identity_iterations` var then.
{#- Spark inlines CTEs, and each round refers to the one before twice, so its plan doubles per
    round (12 rounds ran Spark's analyser out of memory); it gets its own, smaller number. -#}
{%- set rounds = (var('identity_iterations_spark') if target.type == 'spark' else var('identity_iterations')) | int %}

with edges as (

    select identifier_a as node, identifier_b as neighbour from {{ ref('int_identifiers_linked') }}
    union
    select identifier_b as node, identifier_a as neighbour from {{ ref('int_identifiers_linked') }}

),

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

){% if not loop.last %},{% endif %}
{% endfor %}

select
    node as identifier,
    label as cluster_label
from round_{{ rounds }}
