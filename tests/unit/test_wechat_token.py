"""The WeChat transport and access-token cache, against the fake WeChat server over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from notifications.wechat_token import AccessTokenCache, WeChatAPI, WeChatError, WeChatUnavailable
from tests.conftest import FrozenClock


@pytest.fixture
def clock():
    return FrozenClock(datetime(2026, 3, 2, 2, 0, tzinfo=UTC))


@pytest.fixture
def tokens(fake_wechat, clock):
    return AccessTokenCache(WeChatAPI(fake_wechat.base_url, busy_retry_delay=0), fake_wechat.appid,
                            fake_wechat.secret, clock=clock)


def _message(touser="o-alice", **data):
    return {"touser": touser, "template_id": "TPL-objection-result", "page": "pages/objections/index",
            "data": {key: {"value": value} for key, value in (data or {"thing1": "异议已处理"}).items()}}


def test_the_token_is_fetched_once_and_refreshed_five_minutes_before_expiry(tokens, fake_wechat, clock):
    first = tokens.token()
    clock.advance(seconds=7200 - 300 - 1)
    assert tokens.token() == first
    assert len(fake_wechat.calls("stable_token")) == 1
    clock.advance(seconds=1)
    tokens.token()
    assert len(fake_wechat.calls("stable_token")) == 2


def test_a_stale_token_is_refreshed_and_the_call_made_once_more(tokens, fake_wechat):
    tokens.token()
    fake_wechat.fail_next("subscribe_send", 40001)  # WeChat calls the token stale; stable_token still hands it out
    assert tokens.call("POST", "/cgi-bin/message/subscribe/send", json=_message())["errcode"] == 0
    assert [c.body["force_refresh"] for c in fake_wechat.calls("stable_token")] == [False, False, True]
    sends = fake_wechat.calls("subscribe_send")
    assert len(sends) == 2 and sends[0].query["access_token"] != sends[1].query["access_token"]
    assert len(fake_wechat.messages) == 1


def test_an_expired_token_is_replaced_without_force(tokens, fake_wechat):
    tokens.token()
    fake_wechat.expire_tokens()
    tokens.call("POST", "/cgi-bin/message/subscribe/send", json=_message())
    assert [c.body["force_refresh"] for c in fake_wechat.calls("stable_token")] == [False, False]


def test_subscribe_errors_reach_the_caller_unretried(tokens, fake_wechat):
    fake_wechat.unsubscribe("o-bob")
    with pytest.raises(WeChatError) as refused:
        tokens.call("POST", "/cgi-bin/message/subscribe/send", json=_message(touser="o-bob"))
    assert refused.value.errcode == 43101
    with pytest.raises(WeChatError) as too_long:
        tokens.call("POST", "/cgi-bin/message/subscribe/send", json=_message(thing1="二" * 21))
    assert too_long.value.errcode == 47003
    assert len(fake_wechat.calls("subscribe_send")) == 2
    assert fake_wechat.messages == []


def test_busy_is_retried_once(fake_wechat, tokens):
    fake_wechat.fail_next("stable_token", -1)
    assert tokens.token()
    assert len(fake_wechat.calls("stable_token")) == 2


def test_an_outage_is_unavailable_and_names_no_secret(fake_wechat, tokens):
    fake_wechat.http_error_next("stable_token", 500)
    with pytest.raises(WeChatUnavailable):
        tokens.token()
    fake_wechat.outage()
    with pytest.raises(WeChatUnavailable) as down:
        tokens.token()
    assert fake_wechat.secret not in str(down.value)
    assert down.value.__cause__ is None and down.value.__suppress_context__


def test_a_wrong_secret_is_an_error_not_a_token(fake_wechat, clock):
    cache = AccessTokenCache(WeChatAPI(fake_wechat.base_url), fake_wechat.appid, "wrong", clock=clock)
    with pytest.raises(WeChatError) as wrong:
        cache.token()
    assert wrong.value.errcode == 40125


def test_the_fake_records_every_request(fake_wechat, tokens):
    tokens.call("POST", "/cgi-bin/message/subscribe/send", json=_message())
    assert [(r.method, r.path) for r in fake_wechat.requests] == [
        ("POST", "/cgi-bin/stable_token"), ("POST", "/cgi-bin/message/subscribe/send")]
    assert fake_wechat.requests[1].body["data"] == {"thing1": {"value": "异议已处理"}}
    legacy = WeChatAPI(fake_wechat.base_url).request("GET", "/cgi-bin/token", params={
        "grant_type": "client_credential", "appid": fake_wechat.appid, "secret": fake_wechat.secret})
    assert legacy["expires_in"] == 7200 and legacy["access_token"] in fake_wechat.issued_tokens
    assert timedelta(seconds=legacy["expires_in"]) == timedelta(hours=2)
