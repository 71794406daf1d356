"""The dashboard at /__admin/ui, driven in headless Chromium from Debian's packages through
its own chromedriver (Selenium), against the real ``mockserver serve``. What the page
does is checked through the admin API and the vendor API, not through the page alone.

Without Chromium these tests skip and name the packages to install. With
``MOCKSERVER_SCREENSHOTS=DIR`` set, each view is saved as ``DIR/dashboard-<view>.png``
(the README's pictures: ``MOCKSERVER_SCREENSHOTS=docs python -m pytest -n 0
tests/test_dashboard.py``).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from broken_proxy import BrokenProxy, set_status
from chromium import chromium
from conftest import UPLIFT_AUTH, RunningMock, start_mock, start_proxy, uplift_capture

CAPTURE = uplift_capture("swing-042.mov")
TOKEN = "dashboard-s3cret"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium(console_log=True) as driver:
        yield driver


@pytest.fixture
def mock(mock_factory) -> Iterator[RunningMock]:
    server = mock_factory()  # the session's mock of all four APIs
    server.reset()
    yield server
    server.reset()


def wait_until(browser: Any, condition: Callable[[], Any], timeout: float = 15) -> Any:
    """Until ``condition()`` is truthy (the page polls once a second); its value."""
    from selenium.webdriver.support.wait import WebDriverWait

    return WebDriverWait(browser, timeout, poll_frequency=0.2).until(lambda _: condition())


def open_view(browser: Any, server: RunningMock, view: str) -> None:
    """The page, once its script has polled the view at least once."""
    browser.get("about:blank")  # a new page, not a jump to another #view of the last one
    browser.get(server.url(f"/__admin/ui#{view}"))
    wait_until(browser, lambda: browser.find_element("id", view).is_displayed()
               and browser.execute_script("return Number(document.body.dataset.polls || 0)"))


# The page swaps in fresh fragments every second: what lies inside them is read and
# clicked in one script call, never through an element found earlier (it may be gone).

def text_of(browser: Any, selector: str) -> str:
    return str(browser.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.innerText : ''",
        selector))


def texts_of(browser: Any, selector: str) -> list[str]:
    return list(browser.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((e) => e.innerText)",
        selector))


def click(browser: Any, selector: str) -> None:
    browser.execute_script("document.querySelector(arguments[0]).click()", selector)


def style_of(browser: Any, selector: str, name: str) -> str:
    return str(browser.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0]))[arguments[1]]",
        selector, name))


def screenshot(browser: Any, view: str) -> None:
    folder = os.environ.get("MOCKSERVER_SCREENSHOTS")
    if folder:
        browser.execute_script("window.scrollTo(0, 0)")
        browser.save_screenshot(str(Path(folder) / f"dashboard-{view}.png"))


def mock_now(server: RunningMock) -> datetime:
    now = requests.get(server.url("/__admin/clock"), timeout=10).json()["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


def console_errors(browser: Any) -> list[str]:
    """What the page reported as errors: script failures, refused loads, CSP violations."""
    return [entry["message"] for entry in browser.get_log("browser")
            if entry["level"] == "SEVERE"]


def test_the_page_loads_each_view_with_no_script_error(browser, mock):
    open_view(browser, mock, "journal")
    assert browser.title == "mockserver dashboard"
    tabs = [link.text for link in browser.find_elements("css selector", "nav a")]
    assert tabs == ["Journal", "State", "Clock", "Faults"]
    for view in ("state", "clock", "faults", "journal"):
        browser.find_element("css selector", f'nav a[data-view="{view}"]').click()
        wait_until(browser, lambda view=view: browser.find_element("id", view).is_displayed())
        others = [section.is_displayed()
                  for section in browser.find_elements("css selector", "main > section")
                  if section.get_attribute("id") != view]
        assert others == [False, False, False]
    assert "uplift" in text_of(browser, "header") and "mycrt" in text_of(browser, "header")
    wait_until(browser, lambda: "stale" not in browser.find_element(
        "id", "live").get_attribute("class"))
    assert console_errors(browser) == []


def test_a_request_sent_to_an_api_appears_in_the_journal(browser, mock):
    open_view(browser, mock, "journal")
    created = requests.post(mock.url("/v1/captures"), json=CAPTURE, headers=UPLIFT_AUTH,
                            timeout=10)
    invalid = requests.post(mock.url("/v1/captures"), json={**CAPTURE, "file_name": "a/b.txt"},
                            headers=UPLIFT_AUTH, timeout=10)
    assert (created.status_code, invalid.status_code) == (200, 400)
    entries = "#journal-list .entry"
    newest, older = wait_until(browser, lambda: len(texts_of(browser, entries)) == 2
                               and texts_of(browser, f"{entries} summary"))
    assert "POST" in newest and "/v1/captures" in newest and "400" in newest
    assert "uplift.createCapture" in older and "200" in older
    # newest first; only the refused one carries validation errors, in red
    assert len(texts_of(browser, f"{entries}.invalid")) == 1
    first = f"{entries}:nth-child(1)"
    assert style_of(browser, f"{first} .errors", "color") == "rgb(196, 35, 28)"
    click(browser, f"{first} summary")
    assert "body.file_name" in text_of(browser, f"{first} .errors")
    # still open after the next polls, which replace the list
    requests.get(mock.url("/v1/captures"), headers=UPLIFT_AUTH, timeout=10)
    wait_until(browser, lambda: len(texts_of(browser, entries)) == 3)
    second = f"{entries}:nth-child(2)"
    assert browser.execute_script(f"return document.querySelector('{second}').open")
    assert "body.file_name" in text_of(browser, second)
    screenshot(browser, "journal")


def test_the_state_view_shows_the_resources_the_mock_holds(browser, mock):
    session_id = requests.post(mock.url("/v1/captures"), json=CAPTURE, headers=UPLIFT_AUTH,
                               timeout=10).json()["session_id"]
    state = requests.get(mock.url("/__admin/state"), timeout=10).json()["apis"]
    assert [item["key"] for item in state["uplift"]["capture"]["items"]] == [session_id]
    assert {"org", "api_key", "athlete", "session_group", "capture"} == set(state["uplift"])
    assert {"user", "session", "environment", "capture"} == set(state["mycrt"])
    open_view(browser, mock, "state")
    uplift = text_of(browser, '.api-state[data-api="uplift"]')
    assert session_id in uplift and "swing-042.mov" in uplift
    screenshot(browser, "state")


def test_advancing_and_setting_the_clock_from_the_page_moves_the_mocks_clock(browser, mock):
    open_view(browser, mock, "clock")
    before = mock_now(mock)
    browser.find_element("id", "advance-amount").clear()
    browser.find_element("id", "advance-amount").send_keys("2")
    browser.find_element("css selector", '#advance-unit option[value="86400"]').click()
    browser.find_element("id", "advance-button").click()
    wait_until(browser, lambda: mock_now(mock) - before >= timedelta(days=2))
    assert mock_now(mock) - before < timedelta(days=2, minutes=1)
    wait_until(browser, lambda: "Clock advanced to" in text_of(browser, "#notice"))
    browser.find_element("id", "set-now").send_keys("2031-02-03T04:05:06Z")
    browser.find_element("id", "set-button").click()
    wait_until(browser, lambda: mock_now(mock).isoformat().startswith("2031-02-03T04:05"))
    wait_until(browser, lambda: text_of(browser, "#clock-now").startswith("2031-02-03T04:05"))
    screenshot(browser, "clock")


def test_a_fault_added_from_the_page_makes_the_next_request_fail(browser, mock):
    open_view(browser, mock, "faults")
    browser.find_element("css selector", '#fault-api option[value="uplift"]').click()
    browser.find_element("css selector", '#fault-operation option[value="listCaptures"]').click()
    browser.find_element("id", "fault-status").send_keys("503")
    browser.find_element("id", "add-fault").click()
    wait_until(browser, lambda: "listCaptures" in text_of(browser, "[data-part=faults]"))
    failed = requests.get(mock.url("/v1/captures"), headers=UPLIFT_AUTH, timeout=10)
    assert failed.status_code == 503 and failed.json()["error"]
    rules = requests.get(mock.url("/__admin/faults"), timeout=10).json()["faults"]
    assert [(rule["api"], rule["operation"], rule["status"]) for rule in rules] == [
        ("uplift", "listCaptures", 503)]
    screenshot(browser, "faults")
    # the admin API's refusal is shown, and nothing is added
    browser.find_element("id", "fault-status").clear()
    browser.find_element("id", "fault-status").send_keys("418")
    browser.find_element("id", "add-fault").click()
    wait_until(browser, lambda: "not documented" in text_of(browser, "#notice"))
    assert len(requests.get(mock.url("/__admin/faults"), timeout=10).json()["faults"]) == 1
    browser.find_element("id", "clear-faults").click()
    wait_until(browser, lambda: not requests.get(mock.url("/__admin/faults"),
                                                 timeout=10).json()["faults"])
    assert requests.get(mock.url("/v1/captures"), headers=UPLIFT_AUTH,
                        timeout=10).status_code == 200


def test_reset_from_the_page_restores_the_fixtures(browser, mock):
    session_id = requests.post(mock.url("/v1/captures"), json=CAPTURE, headers=UPLIFT_AUTH,
                               timeout=10).json()["session_id"]
    mock.advance(86400 * 30)
    open_view(browser, mock, "journal")
    wait_until(browser, lambda: texts_of(browser, "#journal-list .entry"))
    browser.find_element("id", "reset").click()
    wait_until(browser, lambda: "Reset" in text_of(browser, "#notice"))
    assert requests.get(mock.url(f"/v1/captures/{session_id}"), headers=UPLIFT_AUTH,
                        timeout=10).status_code == 404
    assert abs(mock_now(mock) - datetime.now(mock_now(mock).tzinfo)) < timedelta(minutes=1)
    wait_until(browser, lambda: len(texts_of(browser, "#journal-list .entry")) == 1)
    assert "404" in text_of(browser, "#journal-list .entry")  # only the one just sent


@pytest.fixture(scope="module")
def guarded() -> Iterator[RunningMock]:
    server = start_mock("--api", "uplift", "--admin-token", TOKEN, admin_token=TOKEN)
    yield server
    server.stop()


def test_with_an_admin_token_the_page_asks_for_it_once_then_works(browser, guarded):
    browser.delete_all_cookies()
    browser.get(guarded.url("/__admin/ui"))
    browser.find_element("name", "token").send_keys("a guess")
    browser.find_element("css selector", "button[type=submit]").click()
    wait_until(browser, lambda: "not the admin token" in text_of(browser, ".error"))
    browser.find_element("name", "token").send_keys(TOKEN)
    browser.find_element("css selector", "button[type=submit]").click()
    wait_until(browser, lambda: browser.title == "mockserver dashboard")
    assert browser.execute_script("return document.cookie") == ""  # HttpOnly
    before = mock_now_with(guarded)
    browser.get(guarded.url("/__admin/ui#clock"))
    wait_until(browser, lambda: browser.find_element("id", "clock").is_displayed())
    browser.find_element("css selector", '[data-advance="3600"]').click()
    wait_until(browser, lambda: mock_now_with(guarded) - before >= timedelta(hours=1))


def mock_now_with(server: RunningMock) -> datetime:
    now = server.session.get(server.url("/__admin/clock"), timeout=10).json()["now"]
    return datetime.fromisoformat(now.replace("Z", "+00:00"))


def test_the_dashboard_cookie_needs_the_header_for_changes(guarded):
    """Over plain HTTP: what a page on another origin could and could not do with it."""
    anonymous = requests.Session()
    page = anonymous.get(guarded.url("/__admin/ui"), timeout=10)
    assert page.status_code == 401 and 'name="token"' in page.text
    assert anonymous.get(guarded.url("/__admin/state"), timeout=10).status_code == 401
    login = anonymous.get(guarded.url(f"/__admin/ui?token={TOKEN}"), timeout=10,
                          allow_redirects=False)
    assert login.status_code == 303 and login.headers["Location"] == "/__admin/ui"
    cookie = login.headers["Set-Cookie"]
    assert TOKEN not in cookie
    assert {"HttpOnly", "SameSite=Strict", "Path=/__admin"} <= {
        part.strip() for part in cookie.split(";")}
    assert anonymous.get(guarded.url("/__admin/ui"), timeout=10).status_code == 200
    assert anonymous.get(guarded.url("/__admin/state"), timeout=10).status_code == 200
    forged = anonymous.post(guarded.url("/__admin/reset"), timeout=10)
    assert forged.status_code == 403 and "X-Mockserver-Admin" in forged.json()["message"]
    allowed = anonymous.post(guarded.url("/__admin/reset"), timeout=10,
                             headers={"X-Mockserver-Admin": "dashboard"})
    assert allowed.status_code == 200
    wrong = requests.get(guarded.url("/__admin/ui?token=nope"), timeout=10)
    assert wrong.status_code == 401 and "Set-Cookie" not in wrong.headers


def test_the_proxys_dashboard_shows_each_violation_with_its_grade(browser, mock):
    with BrokenProxy(mock.origin, set_status("POST", "/v1/captures", 201)) as broken:
        proxy = start_proxy(broken.url("/v1"))
        try:
            requests.post(proxy.url("/v1/captures"), json=CAPTURE, headers=UPLIFT_AUTH,
                          timeout=10)
            open_view(browser, proxy, "journal")
            assert "proxy for uplift" in text_of(browser, "header")
            entry = "#journal-list .entry.invalid"
            wait_until(browser, lambda: text_of(browser, entry))
            click(browser, f"{entry} summary")
            assert text_of(browser, f"{entry} .grade") == "DOCUMENT"  # the style upper-cases
            assert "response.status: 201 is not documented" in text_of(browser, entry)
            assert '"POST /captures"' in text_of(browser, entry)
            request, response = texts_of(browser, f"{entry} .panel")
            assert '"file_name": "swing-042.mov"' in request
            assert '"session_id"' in response and "Content-Type" in response
            screenshot(browser, "proxy")
        finally:
            proxy.stop()


def test_off_loopback_without_a_token_the_dashboard_is_refused():
    """As the admin API: only loopback reaches tests, so the remote browser is simulated in
    process, with the real app and a request from another address."""
    from mockserver.app import Settings, create_app

    client = create_app(Settings(apis=("uplift",))).test_client()
    remote = {"REMOTE_ADDR": "192.0.2.10"}
    for path in ("/__admin/ui", "/__admin/ui/part/journal", "/__admin/state"):
        refused = client.get(path, environ_base=remote)
        assert refused.status_code == 403 and "loopback" in refused.json["message"], path
    assert client.get("/__admin/ui").status_code == 200  # the test client is loopback
