"""The fake HubSpot answers in shapes the SDK's own models accept, with HubSpot's paging,
search semantics, limits and error bodies. Every call below goes through hubspot-api-client,
whose models carry HubSpot's schemas (required fields are checked on deserialisation)."""
from __future__ import annotations

import json
from collections import deque

import pytest
import urllib3
from hubspot import HubSpot
from fake_hubspot import FakeHubSpot, Faults, generate_account, iso

T = (2, 2)
# (each SDK package has its own model classes, so shapes are checked by class name)


@pytest.fixture(scope="module")
def fake():
    with FakeHubSpot(generate_account(contacts=30, deals=20, companies=10), rate_limit=10_000) as f:
        yield f


@pytest.fixture(scope="module")
def sdk(fake):
    return HubSpot(access_token=fake.token, host=fake.url, retry=False)


def _raw(fake, method: str, path: str, body: dict | None = None, token: str | None = None):
    http = urllib3.PoolManager(retries=False)
    headers = {"Authorization": f"Bearer {token or fake.token}", "Content-Type": "application/json"}
    return http.request(method, fake.url + path, headers=headers,
                        body=json.dumps(body) if body is not None else None, timeout=2)


def test_fake_list_pages_deserialise_and_cover_every_record(fake, sdk):
    api, seen, after = sdk.crm.contacts.basic_api, [], None
    while True:
        page = api.get_page(limit=7, after=after, properties=["email", "lifecyclestage"],
                            _request_timeout=T)
        assert type(page).__name__ == "CollectionResponseSimplePublicObjectWithAssociationsForwardPaging"
        seen += [r.id for r in page.results]
        rec = page.results[0]
        assert set(rec.properties) >= {"email", "lifecyclestage"} and rec.created_at.tzinfo
        if page.paging is None:
            break
        after = page.paging.next.after
    assert seen == sorted((r.id for r in fake.account.live("contacts")), key=int)


def test_fake_list_with_history_caps_at_50_and_returns_values_newest_first(fake, sdk):
    page = sdk.crm.deals.basic_api.get_page(limit=100, properties_with_history=["dealstage"],
                                            _request_timeout=T)
    assert len(page.results) == min(50, len(fake.account.live("deals")))
    rec = page.results[0]
    hist = rec.properties_with_history["dealstage"]
    expected = list(reversed(fake.account.objects["deals"][rec.id].history["dealstage"]))
    assert [h.value for h in hist] == [v for v, _ in expected]
    assert hist[0].timestamp >= hist[-1].timestamp and hist[0].source_type == "CRM_UI"


def test_fake_archived_lists_only_archived_records(fake, sdk):
    page = sdk.crm.companies.basic_api.get_page(limit=100, archived=True, _request_timeout=T)
    archived = {r.id for r in fake.account.objects["companies"].values() if r.archived}
    assert {r.id for r in page.results} == archived
    assert all(r.archived and r.archived_at for r in page.results)


def test_fake_search_filters_sorts_totals_and_pages_by_offset(fake, sdk):
    recs = sorted(fake.account.live("contacts"), key=lambda r: r.updated_ms)
    lo = recs[5].updated_ms
    body = {"filterGroups": [{"filters": [{"propertyName": "lastmodifieddate", "operator": "GTE",
                                           "value": str(lo)}]}],
            "sorts": [{"propertyName": "lastmodifieddate", "direction": "ASCENDING"}],
            "properties": ["email"], "limit": 4}
    page = sdk.crm.contacts.search_api.do_search(body, _request_timeout=T)
    assert type(page).__name__ == "CollectionResponseWithTotalSimplePublicObjectForwardPaging"
    assert page.total == len([r for r in recs if r.updated_ms >= lo])
    assert [r.id for r in page.results] == [r.id for r in recs[5:9]]
    assert page.paging.next.after == "4"
    assert set(page.results[0].properties) == {"email", "createdate", "lastmodifieddate", "hs_object_id"}


def test_fake_search_answers_400_past_10000_and_above_limit_200(fake):
    past = _raw(fake, "POST", "/crm/v3/objects/contacts/search", {"limit": 10, "after": "10000"})
    assert past.status == 400
    err = json.loads(past.data)
    assert err["status"] == "error" and err["category"] == "VALIDATION_ERROR" and err["correlationId"]
    assert _raw(fake, "POST", "/crm/v3/objects/deals/search", {"limit": 201}).status == 400


def test_fake_search_in_and_has_property_operators(fake, sdk):
    body = {"filterGroups": [{"filters": [
        {"propertyName": "lifecyclestage", "operator": "IN", "values": ["customer", "lead"]},
        {"propertyName": "hs_lead_status", "operator": "HAS_PROPERTY"}]}], "limit": 200}
    page = sdk.crm.contacts.search_api.do_search(body, _request_timeout=T)
    expected = {r.id for r in fake.account.live("contacts")
                if r.props["lifecyclestage"] in ("customer", "lead") and r.props.get("hs_lead_status")}
    assert {r.id for r in page.results} == expected


def test_fake_batch_read_with_history_limits_and_207(fake, sdk):
    ids = [r.id for r in fake.account.live("deals")[:3]]
    body = {"inputs": [{"id": i} for i in ids + ["999999999"]], "properties": ["amount"],
            "propertiesWithHistory": ["amount"]}
    resp = sdk.crm.deals.batch_api.read(body, _request_timeout=T)
    assert type(resp).__name__ == "BatchResponseSimplePublicObjectWithErrors"  # the 207 model
    assert sorted(r.id for r in resp.results) == sorted(ids) and resp.num_errors == 1
    raw = _raw(fake, "POST", "/crm/v3/objects/deals/batch/read", body)
    assert raw.status == 207 and json.loads(raw.data)["numErrors"] == 1
    too_many = {"inputs": [{"id": str(i)} for i in range(51)], "propertiesWithHistory": ["amount"]}
    assert _raw(fake, "POST", "/crm/v3/objects/deals/batch/read", too_many).status == 400


def test_fake_owners_with_and_without_trailing_slash(fake, sdk):
    page = sdk.crm.owners.owners_api.get_page(limit=100, _request_timeout=T)
    assert type(page).__name__ == "CollectionResponsePublicOwnerForwardPaging"
    assert {o.id for o in page.results} == {o.id for o in fake.account.owners if not o.archived}
    assert _raw(fake, "GET", "/crm/v3/owners").status == 200
    teamed = [o for o in page.results if o.teams]
    assert teamed and teamed[0].teams[0].name


def test_fake_pipelines_carry_string_metadata(fake, sdk):
    resp = sdk.crm.pipelines.pipelines_api.get_all("deals", _request_timeout=T)
    assert type(resp).__name__ == "CollectionResponsePipelineNoPaging"
    stage = {s.id: s for s in resp.results[0].stages}["closedwon"]
    assert stage.metadata == {"probability": "1.0", "isClosed": "true"}


def test_fake_associations_v4_page_per_input(fake, sdk):
    acct = fake.account
    deal = next(d for d in acct.live("deals") if len(acct.deal_associations(d.id, "contacts")) >= 2)
    fake.assoc_page = 1
    try:
        body = {"inputs": [{"id": deal.id}]}
        got = []
        while True:
            resp = sdk.crm.associations.v4.batch_api.get_page("deals", "contacts", body,
                                                              _request_timeout=T)
            assert type(resp).__name__ == "BatchResponsePublicAssociationMultiWithLabel"
            item = resp.results[0]
            got += [str(t.to_object_id) for t in item.to]
            assert item.to[0].association_types[0].type_id == 3
            if item.paging is None:
                break
            body = {"inputs": [{"id": deal.id, "after": item.paging.next.after}]}
    finally:
        fake.assoc_page = 500
    assert sorted(got, key=int) == sorted(acct.deal_associations(deal.id, "contacts"), key=int)


def test_fake_rate_limit_429_body_and_headers():
    with FakeHubSpot(generate_account(contacts=5, deals=2, companies=2), rate_limit=3,
                     window_s=60) as fake:
        statuses = [_raw(fake, "GET", "/crm/v3/objects/contacts") for _ in range(4)]
        assert [r.status for r in statuses] == [200, 200, 200, 429]
        ok, limited = statuses[0], statuses[3]
        assert ok.headers["X-HubSpot-RateLimit-Max"] == "3"
        assert ok.headers["X-HubSpot-RateLimit-Remaining"] == "2"
        assert ok.headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "60000"
        body = json.loads(limited.data)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING" and body["errorType"] == "RATE_LIMIT"
        search = _raw(fake, "POST", "/crm/v3/objects/contacts/search", {"limit": 1})
        assert search.status == 200  # search has its own limit and no rate-limit headers
        assert "X-HubSpot-RateLimit-Max" not in search.headers


def test_fake_daily_limit_and_auth_errors():
    with FakeHubSpot(generate_account(contacts=5, deals=2, companies=2), daily_limit=1) as fake:
        assert _raw(fake, "GET", "/crm/v3/objects/deals").status == 200
        daily = _raw(fake, "GET", "/crm/v3/objects/deals")
        assert daily.status == 429 and json.loads(daily.data)["policyName"] == "DAILY"
        assert daily.headers["X-HubSpot-RateLimit-Daily-Remaining"] == "0"
        bad = _raw(fake, "GET", "/crm/v3/objects/deals", token="wrong")
        assert bad.status == 401 and json.loads(bad.data)["category"] == "INVALID_AUTHENTICATION"


@pytest.mark.parametrize("kind", ["500", "502", "503", "truncate", "cut", "drop"])
def test_fake_injects_scripted_faults(kind):
    with FakeHubSpot(generate_account(contacts=5, deals=2, companies=2),
                     faults=Faults(scripted=deque([kind]))) as fake:
        try:
            resp = _raw(fake, "GET", "/crm/v3/objects/contacts")
        except urllib3.exceptions.HTTPError:
            assert kind in ("drop", "cut")
        else:
            if kind in ("500", "502", "503"):
                assert resp.status == int(kind)
            else:
                assert resp.status == 200
                with pytest.raises(ValueError):
                    json.loads(resp.data)
        assert _raw(fake, "GET", "/crm/v3/objects/contacts").status == 200  # next one is clean


def test_fake_slow_response_passes_the_client_timeout():
    with FakeHubSpot(generate_account(contacts=5, deals=2, companies=2),
                     faults=Faults(scripted=deque(["slow"]), slow_s=0.6)) as fake:
        http = urllib3.PoolManager(retries=False)
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            http.request("GET", fake.url + "/crm/v3/objects/contacts", timeout=0.2,
                         headers={"Authorization": f"Bearer {fake.token}"})


def test_fake_edits_move_last_modified_and_archive(fake):
    acct = fake.account
    rec = acct.live("companies")[0]
    before = rec.updated_ms
    acct.update("companies", rec.id, name="New name")
    assert rec.updated_ms > before and rec.props["hs_lastmodifieddate"] == iso(rec.updated_ms)


def test_fake_property_definitions_list_lifecycle_options(fake, sdk):
    resp = sdk.crm.properties.core_api.get_all("contacts", _request_timeout=T)
    assert type(resp).__name__ == "CollectionResponsePropertyNoPaging"
    props = {p.name: p for p in resp.results}
    assert [o.value for o in props["lifecyclestage"].options][:3] == \
        ["subscriber", "lead", "marketingqualifiedlead"]
    assert props["lastmodifieddate"].type == "datetime"
