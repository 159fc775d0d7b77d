{#- Each CX formula is written once, here, and explained in DECISIONS.md. -#}

{#- NPS on a -100..100 scale; NULL when nobody answered. -#}
{% macro nps_score(promoters, detractors, responses) -%}
    case when {{ responses }} > 0
        then 100.0 * ({{ promoters }} - {{ detractors }}) / {{ responses }}
    end
{%- endmacro %}

{#- Half-width of the 95% confidence interval of NPS, in NPS points: each answer scores +1
    (promoter), 0 or -1 (detractor); the variance of that score is p + d - (p - d)^2. -#}
{% macro nps_margin_of_error(promoters, detractors, responses) -%}
    case when {{ responses }} > 0
        then 100.0 * 1.96 * sqrt(
            (1.0 * {{ promoters }} / {{ responses }} + 1.0 * {{ detractors }} / {{ responses }}
             - power(1.0 * ({{ promoters }} - {{ detractors }}) / {{ responses }}, 2))
            / {{ responses }}
        )
    end
{%- endmacro %}

{#- A share in percent (0-100); NULL when the denominator is zero. -#}
{% macro percent(numerator, denominator) -%}
    case when ({{ denominator }}) > 0 then 100.0 * ({{ numerator }}) / ({{ denominator }}) end
{%- endmacro %}
