"""The Dagster definitions load, and the asset graph reads from landing file to mart."""

from __future__ import annotations

import dagster as dg


def test_definitions_load_and_validate():
    from orchestration.definitions import defs

    dg.Definitions.validate_loadable(defs)
    assert defs.resolve_job_def("full_pipeline") is not None
    assert defs.resolve_job_def("release_load_job") is not None


def test_lineage_from_landing_to_marts_with_checks():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    key = dg.AssetKey

    def upstream(k):
        return {p for p in graph.get(k).parent_keys}

    assert upstream(key(["raw", "survey_responses"])) == {key(["landing", "export_files"])}
    assert key(["raw", "survey_responses"]) in upstream(key(["staging", "stg_survey__responses"]))
    assert key(["staging", "stg_survey__responses"]) in upstream(key(["marts", "survey_responses"]))
    assert key(["marts", "survey_responses"]) in upstream(key(["marts", "nps_monthly"]))
    # Every raw table has its blocking Great Expectations check; dbt tests are checks on the marts.
    specs = [graph.get_check_spec(k) for k in graph.asset_check_keys]
    checks = {(c.asset_key, c.name): c for c in specs}
    for entity in ["crm_contacts", "crm_deals", "support_tickets", "survey_responses", "marketing_email_activity",
                   "marketing_web_sessions", "marketing_ad_spend"]:
        spec = checks[(key(["raw", entity]), "gx_validation")]
        assert spec.blocking
    assert any(k.asset_key == key(["marts", "customer_360"]) for k in graph.asset_check_keys)


def test_groups_follow_the_layers():
    from orchestration.definitions import defs

    graph = defs.resolve_asset_graph()
    groups = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()
              if graph.get(k).is_materializable}
    assert groups["landing/export_files"] == "sources"
    assert groups["raw/crm_contacts"] == "raw_crm" and groups["raw/survey_responses"] == "raw_survey"
    assert groups["staging/stg_crm__contacts"] == "staging"
    assert groups["intermediate/int_identifiers_clustered"] == "intermediate"
    assert groups["marts/customer_360"] == "marts"
