"""The client: rolling request budget, retries and their limits, error classification, settings."""
from __future__ import annotations

import datetime as dt
from collections import deque

import pytest

from connectors.hubspot.client import (ClientSettings, DailyLimitReached, HubSpotConfigError,
                                       HubSpotRequestError, HubSpotUnavailable, RollingBudget,
                                       load_settings, next_midnight)
from connectors.hubspot.mapping import parse_datetime, to_cents
from fake_hubspot import FakeHubSpot, Faults, generate_account
from hubspot_testkit import client_for


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, s: float) -> None:
        self.now += s


def test_budget_never_exceeds_its_limit_in_any_window():
    clock = FakeClock()
    budget = RollingBudget(5, 10.0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(23):
        budget.acquire()
        starts.append(clock.now)
        clock.now += 0.3  # each request takes 0.3 s
    for t in starts:
        assert sum(1 for u in starts if t <= u < t + 10.0) <= 5
    # 23 requests at 5 per 10 s: the 21st can start only after four full windows
    assert starts[20] >= starts[0] + 40.0


def test_budget_lets_a_first_burst_through_without_waiting():
    clock = FakeClock()
    budget = RollingBudget(3, 10.0, clock=clock, sleep=clock.sleep)
    assert [budget.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert budget.acquire() == pytest.approx(10.0)


def _account():
    return generate_account(contacts=5, deals=2, companies=2, owners=3)


def _list(client):
    api = client.objects["contacts"].basic_api
    return client.call(api.get_page, limit=10, what="contacts page")


@pytest.mark.parametrize("faults", [["429"], ["500", "502", "503"], ["drop", "cut"], ["truncate"],
                                    ["slow"]])
def test_client_retries_transient_failures(faults):
    slow = faults == ["slow"]
    with FakeHubSpot(_account(), faults=Faults(scripted=deque(faults), slow_s=1.5)) as fake:
        client = client_for(fake, timeout=(0.5, 0.4) if slow else (2.0, 5.0))
        page = _list(client)
        assert len(page.results) == len(fake.account.live("contacts"))
        # a loaded machine may time out a normal answer too: only the slow case allows extras
        assert client.retries >= 1 if slow else client.retries == len(faults)


def test_client_retries_post_search_too():
    with FakeHubSpot(_account(), faults=Faults(scripted=deque(["503", "drop"]))) as fake:
        client = client_for(fake, timeout=(2.0, 5.0))
        api = client.objects["contacts"].search_api
        page = client.call(api.do_search, {"limit": 10}, search=True, what="search")
        assert page.total == len(fake.account.live("contacts")) and client.retries == 2


def test_client_gives_up_after_its_attempts_with_a_clear_message():
    with FakeHubSpot(_account(), faults=Faults(rate=1.0, kinds=("500",))) as fake:
        client = client_for(fake, attempts=3)
        with pytest.raises(HubSpotUnavailable) as err:
            _list(client)
        assert fake.requests == 3
        assert "after 3 attempts" in str(err.value) and "resumes" in str(err.value)


def test_client_logs_and_counts_only_the_retries_it_makes(caplog):
    """Issue #13: the last failed attempt was logged as "retry 3/2" (and counted) though none followed."""
    with FakeHubSpot(_account(), faults=Faults(rate=1.0, kinds=("500",))) as fake:
        client = client_for(fake, attempts=3)
        with caplog.at_level("INFO", logger="connectors.hubspot.client"), pytest.raises(HubSpotUnavailable):
            _list(client)
    assert fake.requests == 3 and client.retries == 2
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.hubspot.client"]
    retries = [line for line in lines if "; retry " in line]
    assert [line.split("; retry ")[1].split(" ")[0] for line in retries] == ["1/2", "2/2"]
    assert "giving up after 3 attempts" in lines[-1] and "retry" not in lines[-1]


def test_client_does_not_retry_a_rejected_request():
    with FakeHubSpot(_account()) as fake:
        client = client_for(fake, timeout=(2.0, 5.0))
        api = client.objects["deals"].search_api
        with pytest.raises(HubSpotRequestError) as err:
            client.call(api.do_search, {"limit": 500}, search=True, what="deals search")
        assert err.value.status == 400 and fake.requests == 1
        assert "limit must be at most 200" in str(err.value)


def test_client_honours_retry_after_on_429():
    slept = []
    with FakeHubSpot(_account(), faults=Faults(scripted=deque(["429"]))) as fake:
        client = client_for(fake, timeout=(2.0, 5.0))
        client._sleep = slept.append
        original = fake._limit_headers
        fake._limit_headers = lambda remaining: {**original(remaining), "Retry-After": "2"}
        _list(client)
    assert slept == [2.0]


def test_client_stops_on_daily_limit_at_once():
    with FakeHubSpot(_account(), daily_limit=0) as fake:
        client = client_for(fake, timezone="Europe/Paris")
        with pytest.raises(DailyLimitReached) as err:
            _list(client)
        assert fake.requests == 1
        assert "Europe/Paris" in str(err.value) and err.value.resets_at > dt.datetime(2000, 1, 1)


def test_next_midnight_is_in_the_account_time_zone():
    now = dt.datetime(2026, 3, 10, 22, 30)  # 23:30 in Paris (UTC+1 in March before DST)
    assert next_midnight(now, "Europe/Paris") == dt.datetime(2026, 3, 10, 23, 0)
    assert next_midnight(now, "UTC") == dt.datetime(2026, 3, 11, 0, 0)


def test_settings_from_environment(monkeypatch):
    monkeypatch.setenv("HUBSPOT_ACCESS_TOKEN", "pat-xyz-secret")
    monkeypatch.setenv("HUBSPOT_API_HOST", "http://127.0.0.1:9999/")
    monkeypatch.setenv("HUBSPOT_RATE_LIMIT", "190")
    s = load_settings()
    assert (s.host, s.rate_limit, s.window_s) == ("http://127.0.0.1:9999", 190, 10.0)
    assert "pat-xyz-secret" not in repr(s)
    monkeypatch.setenv("HUBSPOT_RATE_LIMIT", "fast")
    with pytest.raises(HubSpotConfigError, match="HUBSPOT_RATE_LIMIT"):
        load_settings()


def test_settings_without_token_say_where_to_put_it(monkeypatch):
    monkeypatch.chdir("/")  # no .streamlit/secrets.toml here
    with pytest.raises(HubSpotConfigError) as err:
        load_settings()
    assert "HUBSPOT_ACCESS_TOKEN" in str(err.value) and "[hubspot]" in str(err.value)


def test_client_budget_sits_below_the_account_limit():
    client = __import__("connectors.hubspot.client", fromlist=["HubSpotClient"]).HubSpotClient(
        ClientSettings(token="t", host="http://127.0.0.1:1", rate_limit=190))
    assert client.budget.max_requests == 184 and client.budget.window_s == 10.0
    # searches: 5 per 1.1 s, a margin for network jitter against HubSpot's 5 per second
    assert client.search_budget.max_requests == 5
    assert client.search_budget.window_s == pytest.approx(1.1)


@pytest.mark.parametrize("text, cents", [("3000", 300000), ("1234.5", 123450), ("0.005", 1),
                                         ("-12.345", -1235), ("", None), (None, None)])
def test_to_cents(text, cents):
    assert to_cents(text) == cents


@pytest.mark.parametrize("value, expected", [
    ("2026-02-25T16:26:25.880Z", dt.datetime(2026, 2, 25, 16, 26, 25, 880000)),
    ("1735689600000", dt.datetime(2025, 1, 1)),
    ("2026-02-25", dt.datetime(2026, 2, 25)),
    ("2026-02-25T17:26:25+01:00", dt.datetime(2026, 2, 25, 16, 26, 25)),
    ("", None), ("not a date", None)])
def test_parse_datetime(value, expected):
    assert parse_datetime(value) == expected


def test_client_builds_without_reading_package_metadata(monkeypatch):
    """A sync thread starting while Streamlit reruns a script (which inserts and removes the
    script's folder in sys.path) could fail to find the SDK's metadata: the client must not
    look it up per API (CI saw PackageNotFoundError in the Data page's sync thread)."""
    from importlib import metadata

    from connectors.hubspot import client as client_module

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    with FakeHubSpot(_account()) as fake:
        client = client_for(fake)
        assert len(_list(client).results) == len(fake.account.live("contacts"))
    agent = client.owners_api.api_client.user_agent
    assert agent == client_module.SDK_USER_AGENT
    assert agent.startswith("hubspot-api-client-python; ") and not agent.endswith("unknown")
