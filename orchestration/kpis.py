"""Headline CX numbers read from the marts, for the CLI summary and asset metadata.

Every number here is defined in dbt (DECISIONS.md); this only sums the marts' own columns.
"""

from __future__ import annotations

KPI_SQL = {
    "customers": "SELECT count(*) FROM marts.customer_360",
    "paying_customers": "SELECT count(*) FROM marts.customer_360 WHERE orders > 0",
    "revenue": "SELECT sum(amount) FROM marts.orders",
    "nps": "SELECT 100.0 * (sum(promoters) - sum(detractors)) / nullif(sum(responses), 0) "
           "FROM marts.nps_monthly WHERE dimension = 'all'",
    "nps_responses": "SELECT sum(responses) FROM marts.nps_monthly WHERE dimension = 'all'",
    "csat": "SELECT 100.0 * sum(satisfied) / nullif(sum(ratings), 0) FROM marts.csat_monthly WHERE dimension = 'all'",
    "ces": "SELECT sum(ces_mean * responses) / nullif(sum(responses), 0) FROM marts.ces_monthly WHERE dimension = 'all'",
    "churned_customers": "SELECT count(*) FROM marts.customer_360 WHERE is_churned AND orders > 0",
    "churn_rate_last_month": "SELECT churn_rate FROM marts.churn_monthly ORDER BY calendar_month DESC LIMIT 1 OFFSET 1",
    "median_first_reply_minutes": "SELECT median(first_reply_minutes) FROM marts.support_tickets",
    "tickets": "SELECT count(*) FROM marts.support_tickets",
}

LABELS = {
    "customers": "customers",
    "paying_customers": "paying customers",
    "revenue": "revenue to date",
    "nps": "NPS",
    "nps_responses": "NPS responses",
    "csat": "CSAT %",
    "ces": "CES (mean, 1-7)",
    "churned_customers": "churned paying customers",
    "churn_rate_last_month": "monthly churn rate % (last full month)",
    "median_first_reply_minutes": "median first reply (minutes)",
    "tickets": "tickets",
}


def headline_kpis(con) -> dict[str, float | int | None]:
    out = {}
    for name, sql in KPI_SQL.items():
        try:
            row = con.execute(sql).fetchone()
        except Exception:  # a mart not built yet: report it as missing, not as zero
            row = None
        value = row[0] if row else None
        out[name] = float(value) if value is not None and not isinstance(value, int) else value
    return out


def format_kpis(kpis: dict) -> str:
    lines = []
    for name, value in kpis.items():
        if value is None:
            shown = "n/a"
        elif isinstance(value, float):
            shown = f"{value:,.1f}"
        else:
            shown = f"{value:,}"
        lines.append(f"  {LABELS.get(name, name):<40} {shown:>14}")
    return "\n".join(lines)
