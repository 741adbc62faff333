"""On-screen names of stored codes: HubSpot sources read as HubSpot names them; other values pass."""
from ui.labels import display


def test_display_source_codes_as_hubspot_names_them():
    assert display("source", "ORGANIC_SEARCH") == "Organic search"
    assert display("source", "OFFLINE") == "Offline sources"


def test_display_leaves_unknown_codes_and_other_dimensions_alone():
    assert display("source", "PARTNER_PORTAL") == "PARTNER_PORTAL"
    assert display("region", "PAID_SEARCH") == "PAID_SEARCH"


# ---- #15: stages, owners, channels, lifecycle stages and metrics by name ----
import pandas as pd  # noqa: E402

from ui.labels import Labels, display as show, owner_names, readable  # noqa: E402

STORE = Labels(stages={("default", "decisionmakerboughtin"): "Decision Maker Bought-In",
                       ("renewals", "renewalwon"): "Renewed", ("default", "closedwon"): "Closed Won",
                       ("renewals", "closedwon"): "Renewal won"},
               pipelines={"default": "Sales Pipeline", "renewals": "Renewals"},
               owners={"41": "Inès Thomas (Partners)", "42": "Inès Thomas (Mid-Market EMEA)", "43": "Emma Young"})


def test_display_stage_ids_by_their_store_label():
    assert show("stage", "renewalwon", STORE) == "Renewed"
    assert show("stage", "decisionmakerboughtin", STORE) == "Decision Maker Bought-In"
    assert STORE.stage("closedwon", "renewals") == "Renewal won"  # the pipeline decides when both have it
    assert STORE.stage("closedwon") == "Closed Won"  # pipeline unknown: a name all the same, never the id
    assert show("stage", "marketingqualifiedlead") == "Marketing qualified lead"  # lifecycle stages too
    assert show("lifecycle_stage", "salesqualifiedlead") == "Sales qualified lead"


def test_display_channels_and_metrics_in_words():
    assert show("channel", "marketing_spend") == "Marketing spend"
    assert show("channel", "paid_search") == "Paid search"
    assert show("channel", "linkedin_ads") == "LinkedIn Ads"
    assert show("channel", "Content & SEO") == "Content & SEO"  # already a name
    assert show("metric", "mqls") == "MQLs"
    assert show("metric", "CAC") == "CAC" and show("channel", "SEO") == "SEO"  # names already
    assert show("owner", "43", STORE) == "Emma Young"


def test_owner_names_tell_same_name_owners_apart_by_team_then_email():
    rows = [("1", "Inès", "Thomas", "ines.t@x.example", "Partners"),
            ("2", "Inès", "Thomas", "ines.thomas@x.example", "Mid-Market EMEA"),
            ("3", "Laura", "Müller", "laura@x.example", "DACH"),
            ("4", "Laura", "Müller", "laura.m@x.example", "DACH"),
            ("5", "Emma", "Young", "emma@x.example", "North America"),
            ("6", None, None, "nobody@x.example", None)]
    assert owner_names(rows) == {
        "1": "Inès Thomas (Partners)", "2": "Inès Thomas (Mid-Market EMEA)",
        "3": "Laura Müller (laura@x.example)", "4": "Laura Müller (laura.m@x.example)",
        "5": "Emma Young", "6": "nobody@x.example"}


def test_readable_names_codes_and_keeps_the_ids():
    df = pd.DataFrame({"deal_id": ["d1", "d2"], "pipeline_id": ["renewals", "default"],
                       "stage_id": ["renewalwon", "decisionmakerboughtin"], "stage": ["x", None],
                       "owner_id": ["41", "42"], "owner": ["Inès Thomas", "Inès Thomas"],
                       "deal_source": ["PAID_SEARCH", None], "lifecycle_stage": ["customer", "lead"]})
    out = readable(df, STORE)
    assert list(out["stage"]) == ["Renewed", "Decision Maker Bought-In"]
    assert list(out["pipeline"]) == ["Renewals", "Sales Pipeline"]
    assert list(out["owner"]) == ["Inès Thomas (Partners)", "Inès Thomas (Mid-Market EMEA)"]
    assert list(out["stage_id"]) == ["renewalwon", "decisionmakerboughtin"]  # ids stay for downloads
    assert list(out["owner_id"]) == ["41", "42"]
    assert out["deal_source"][0] == "Paid search" and pd.isna(out["deal_source"][1])
    assert list(out["lifecycle_stage"]) == ["Customer", "Lead"]
    assert list(df["stage_id"]) == ["renewalwon", "decisionmakerboughtin"], "the caller's frame is unchanged"


def test_readable_spend_channels_and_budget_metrics():
    out = readable(pd.DataFrame({"channel": ["marketing_spend", "paid_search"], "metric": ["mqls", "marketing_spend"]}))
    assert list(out["channel"]) == ["Marketing spend", "Paid search"]
    assert out["metric"][0] == "MQLs"


def test_readable_names_the_previous_stage_of_a_waterfall_deal():
    df = pd.DataFrame({"deal_id": ["d1"], "stage_id": ["renewalwon"], "previous_stage_id": ["decisionmakerboughtin"]})
    out = readable(df, STORE)
    assert list(out.columns) == ["deal_id", "stage_id", "stage", "previous_stage_id", "previous_stage"]
    assert (out["stage"][0], out["previous_stage"][0]) == ("Renewed", "Decision Maker Bought-In")
