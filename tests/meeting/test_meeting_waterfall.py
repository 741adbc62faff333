"""The pipeline waterfall on hand-built snapshot pairs: every category, bars that add up exactly."""
from __future__ import annotations

import datetime as dt

from hypothesis import given, settings, strategies as st

from meeting.waterfall import CATEGORIES, pipeline_waterfall

Q4 = (dt.date(2026, 10, 1), dt.date(2026, 12, 31))


def deal(deal_id, amount_eur, close, closed=False, won=False, currency="EUR", stage="qualifiedtobuy"):
    return {"deal_id": deal_id, "name": f"Deal {deal_id}", "amount_cents": amount_eur * 100,
            "currency": currency, "close_date": close, "is_closed": closed, "is_won": won,
            "stage_id": stage, "owner_id": "o1"}


NOV = dt.date(2026, 11, 20)
JAN = dt.date(2027, 1, 15)
START = [
    deal("keep", 1000, NOV),                       # unchanged
    deal("up", 2000, NOV),                         # 2000 -> 2500
    deal("down", 3000, NOV),                       # 3000 -> 1800
    deal("push", 4000, NOV),                       # close date -> January
    deal("pull", 700, JAN),                        # close date January -> December
    deal("win", 5000, NOV),                        # closed won (at 5200: the won bar takes 5000)
    deal("lose", 600, NOV),                        # closed lost
    deal("gone", 300, NOV),                        # deleted from the CRM
    deal("later", 900, JAN),                       # stays outside the window
]
END = [
    deal("keep", 1000, NOV),
    deal("up", 2500, NOV),
    deal("down", 1800, NOV),
    deal("push", 4000, JAN),
    deal("pull", 700, dt.date(2026, 12, 10)),
    deal("win", 5200, NOV, closed=True, won=True, stage="closedwon"),
    deal("lose", 600, NOV, closed=True, stage="closedlost"),
    deal("later", 900, JAN),
    deal("fresh", 1500, dt.date(2026, 12, 1)),     # created since
]


def test_waterfall_every_category_by_hand():
    wf = pipeline_waterfall(START, END, window=Q4)
    got = {b.category: b.amount_cents // 100 for b in wf.bars}
    # start: keep+up+down+push+win+lose+gone = 1000+2000+3000+4000+5000+600+300
    assert got["start"] == 15900
    assert got["new"] == 1500
    assert got["increased"] == 500
    assert got["decreased"] == -1200
    assert got["pushed_out"] == -4000
    assert got["pulled_in"] == 700
    assert got["won"] == -5000
    assert got["lost"] == -600 - 300
    # end: keep+up+down+pull+fresh = 1000+2500+1800+700+1500
    assert got["end"] == 7500
    assert [b.category for b in wf.bars] == list(CATEGORIES)
    assert 15900 + 1500 + 500 - 1200 - 4000 + 700 - 5000 - 900 == 7500


def test_waterfall_deals_behind_each_bar():
    wf = pipeline_waterfall(START, END, window=Q4)
    ids = {b.category: sorted(d["deal_id"] for d in b.deals) for b in wf.bars}
    assert ids == {"start": ["down", "gone", "keep", "lose", "push", "up", "win"],
                   "new": ["fresh"], "increased": ["up"], "decreased": ["down"], "pushed_out": ["push"],
                   "pulled_in": ["pull"], "won": ["win"], "lost": ["gone", "lose"],
                   "end": ["down", "fresh", "keep", "pull", "up"]}
    pushed = wf.bar("pushed_out").deals[0]
    assert pushed["previous_close_date"] == NOV and pushed["close_date"] == JAN
    assert next(d for d in wf.bar("lost").deals if d["deal_id"] == "gone")["note"] == "removed from the CRM"


def test_waterfall_converts_each_deal_to_reporting_cents():
    start = [deal("a", 100, NOV, currency="USD"), deal("b", 10, NOV, currency="GBP")]
    end = [deal("a", 200, NOV, currency="USD"), deal("b", 10, NOV, currency="GBP"), deal("c", 5, NOV, currency="XXX")]
    wf = pipeline_waterfall(start, end, window=Q4, fx={"EUR": 1.0, "USD": 0.92, "GBP": 1.17})
    assert wf.start_cents == 9200 + 1170
    assert wf.bar("increased").amount_cents == 9200
    assert wf.bar("new").amount_cents == 0  # unknown currency counts 0 and is reported
    assert wf.unconverted == ("XXX",)
    assert wf.end_cents == 18400 + 1170


def test_waterfall_reopened_deal_counts_as_new_and_no_window_means_all_open():
    start = [deal("r", 800, NOV, closed=True, stage="closedlost"), deal("x", 100, JAN)]
    end = [deal("r", 800, NOV), deal("x", 100, dt.date(2027, 3, 1))]
    wf = pipeline_waterfall(start, end)
    assert wf.bar("new").amount_cents == 80000
    assert wf.bar("pushed_out").amount_cents == 0 and wf.bar("pulled_in").amount_cents == 0
    assert wf.start_cents == 10000 and wf.end_cents == 90000


def test_waterfall_close_date_moved_before_the_window_is_not_a_push():
    start = [deal("early", 400, NOV)]
    end = [deal("early", 400, dt.date(2026, 9, 30))]
    wf = pipeline_waterfall(start, end, window=Q4)
    assert wf.bar("pulled_in").amount_cents == -40000
    assert wf.bar("pushed_out").amount_cents == 0


_dates = st.sampled_from([None, dt.date(2026, 9, 1), NOV, dt.date(2026, 12, 31), JAN])
_deal = st.fixed_dictionaries({
    "amount_cents": st.one_of(st.none(), st.integers(0, 10**9)), "currency": st.sampled_from(["EUR", "USD"]),
    "close_date": _dates, "is_closed": st.booleans(), "is_won": st.booleans()})


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(st.sampled_from("abcdefgh"), _deal), st.dictionaries(st.sampled_from("abcdefgh"), _deal),
       st.sampled_from([None, Q4]))
def test_waterfall_bars_always_add_up(start, end, window):
    s = [dict(v, deal_id=k) for k, v in start.items()]
    e = [dict(v, deal_id=k) for k, v in end.items()]
    wf = pipeline_waterfall(s, e, window=window, fx={"EUR": 1.0, "USD": 0.92})
    middle = sum(b.amount_cents for b in wf.bars[1:-1])
    assert wf.start_cents + middle == wf.end_cents


def test_waterfall_bars_count_their_deals_in_the_locale():
    """A 1M-deal store's bars hold tens of thousands of deals: "59,982 deals", not "59982 deals"."""
    from meeting.charts import waterfall_figure
    deals = [{"deal_id": f"d{i}", "amount_cents": 100, "currency": "EUR", "close_date": dt.date(2026, 11, 20),
              "is_closed": False, "is_won": False} for i in range(1234)]
    wf = pipeline_waterfall(deals, deals, window=(dt.date(2026, 10, 1), dt.date(2026, 12, 31)))
    assert waterfall_figure(wf).data[0].text[0] == "1,234 deals"
    assert waterfall_figure(wf, locale="fr-FR").data[0].text[0] == "1\u202f234 deals"
