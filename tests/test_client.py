"""mockserver.client.Admin on its own, against the session's server."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import requests

from mockserver.client import Admin, AdminError

UPLIFT_KEY = {"Authorization": "Bearer upl_live_pinecrest_8f2d61c0b7a94e3f"}


@pytest.fixture
def admin(mock_factory):
    running = mock_factory("--api", "uplift")
    client = Admin(running.origin + "/")
    client.reset()
    return client


def test_urls_profile_and_clock(admin):
    assert admin.base_url("uplift") == admin.origin + "/v1"
    assert admin.url("mycrt", "/captures") == admin.origin + "/api/captures"
    assert admin.profile == requests.get(admin.origin + "/__admin/fixtures", timeout=10).json()
    moment = datetime(2030, 1, 1, tzinfo=UTC)
    assert admin.clock.set(moment) - moment < timedelta(seconds=5)
    assert admin.clock.advance(3600) - moment >= timedelta(hours=1)
    assert admin.clock.set("2031-02-03T04:05:06Z").year == 2031
    assert admin.clock.now().year == 2031
    with pytest.raises(AdminError, match="outside the mock clock's range") as refused:
        admin.clock.set("1969-12-31T23:59:59Z")
    assert refused.value.status == 400


def test_faults_requests_har_and_verify(admin):
    rule = admin.faults.add(api="uplift", operation="listCaptures", status=503)
    assert admin.faults.list() == [rule]
    with pytest.raises(AdminError, match="not documented"):
        admin.faults.add(api="uplift", status=418)
    assert requests.get(admin.url("uplift", "/captures"), headers=UPLIFT_KEY,
                        timeout=10).status_code == 503
    admin.faults.clear()
    assert admin.faults.list() == []
    requests.get(admin.url("uplift", "/captures"), headers=UPLIFT_KEY, timeout=10)
    assert [e["status"] for e in admin.requests(api="uplift", operation="listCaptures")] == \
        [200, 503]
    assert [e["status"] for e in admin.requests(status="5xx")] == [503]
    assert admin.requests(since=datetime(9000, 1, 1, tzinfo=UTC) -
                          timedelta(days=1)) == []
    har = admin.har(status=200)
    assert [e["response"]["status"] for e in har["log"]["entries"]] == [200]
    assert len(admin.verify("listCaptures")) == 2
    assert len(admin.verify("listCaptures", count=1, status=503)) == 1
    with pytest.raises(AssertionError, match="expected exactly 1 request"):
        admin.verify("listCaptures", count=1)
    admin.reset()
    with pytest.raises(AssertionError) as empty:
        admin.verify("createCapture", api="uplift")
    assert str(empty.value) == ("expected at least 1 request(s) to uplift createCapture, "
                                "received 0\nthe journal is empty: no request reached the "
                                "mock since its reset")
