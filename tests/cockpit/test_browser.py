"""End to end in a real browser: the suite's processes with demo data, Debian's headless Chromium driven by Playwright.

Signs in as city-demo, checks the panels show the figures the services themselves report, saves screenshots
to test-artifacts/ (cockpit.png at 1280×720, cockpit-phone.png at 390 px) and checks the phone layout fits.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import urllib.request
from pathlib import Path

import pytest

from gateway.seed import DEMO_PASSWORD
from shared.settings import ROOT
from tests.e2e.conftest import suite_env
from tests.indicators import value as value_of
from tools.devserver import Suite

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
# A CJK font, or the Chinese page renders as empty boxes in the screenshot.
APT_PACKAGES = ["chromium", "fonts-wqy-microhei"]
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = ROOT / "test-artifacts"


def _missing_packages() -> list[str]:
    missing = []
    for package in APT_PACKAGES:
        status = subprocess.run(["dpkg-query", "-W", "-f=${Status}", package], capture_output=True, text=True)
        if "install ok installed" not in status.stdout:
            missing.append(package)
    return missing


def install_or_skip(missing: list[str]) -> None:
    """apt-get needs root: CI runs as root and installs what is missing; anyone else gets a skip that says why
    and what to install, never a failed `apt-get` nor a prompt for a password."""
    if not missing:
        return
    if os.geteuid() != 0:
        pytest.skip(
            f"the browser test needs {', '.join(missing)} ({CHROMIUM}); installing them takes root, "
            f"and this runs as uid {os.geteuid()}: sudo apt-get install {' '.join(missing)}"
        )
    if not shutil.which("apt-get"):
        pytest.fail(f"{', '.join(missing)} missing and apt-get is not available: install Chromium at {CHROMIUM}")
    steps = [["apt-get", "update"], ["apt-get", "install", "-y", "--no-install-recommends", *missing]]
    for step in steps:
        done = subprocess.run(
            step,
            capture_output=True,
            text=True,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        if done.returncode != 0:
            pytest.fail(
                f"could not install {', '.join(missing)} for the browser test ({' '.join(step)} exited "
                f"{done.returncode}; network access to the Debian mirror is needed):\n"
                f"{done.stderr[-2000:]}"
            )


@pytest.fixture(scope="session")
def chromium() -> str:
    """Debian's Chromium (and a CJK font), installed with apt-get when missing and running as root (CI)."""
    install_or_skip(_missing_packages() if shutil.which("dpkg-query") else ([] if CHROMIUM.exists() else APT_PACKAGES))
    if not CHROMIUM.exists():
        pytest.fail(f"apt-get installed chromium but {CHROMIUM} is missing")
    return str(CHROMIUM)


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """The suite's processes with demo data, as the e2e tests start them; stopped after this module."""
    tmp = tmp_path_factory.mktemp("cockpit-suite")
    with Suite(suite_env(tmp), log_dir=tmp / "log").running() as running:
        yield running


def _http(suite, method: str, path: str, body: dict | None = None, token: str | None = None) -> dict:
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    request = urllib.request.Request(
        suite.url() + path, method=method, headers=headers, data=json.dumps(body).encode() if body is not None else None
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
async def browser(chromium, tmp_path_factory):
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        context = await playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 720},
            locale="zh-CN",
            timezone_id="Asia/Shanghai",
        )
        try:
            yield context
        finally:
            await context.close()


def _shown(number: float | int) -> str:
    """How the page writes a figure (zh-CN grouping, up to 2 decimals)."""
    return f"{number:,.2f}".rstrip("0").rstrip(".")


async def test_city_staff_sign_in_and_see_every_panel_with_the_demo_figures(suite, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    token = _http(suite, "POST", "/api/auth/v1/staff-sign-ins", {"username": "city-demo", "password": DEMO_PASSWORD})[
        "access_token"
    ]
    # What the services themselves report, read past the cockpit: the page must show the same figures.
    charity = _http(suite, "GET", "/api/charity/v1/indicators", token=token)
    places = _http(suite, "GET", "/api/placenames/v1/indicators", token=token)
    assistance = _http(suite, "GET", "/api/assistance/v1/indicators", token=token)
    eldercare = _http(suite, "GET", "/api/eldercare/v1/indicators", token=token)

    page = await browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    await page.goto(suite.url() + "/cockpit")
    assert await page.title() == "宁波市民政数字驾驶舱"

    # A wrong password is refused in words, and the form stays.
    await page.fill("#username", "city-demo")
    await page.fill("#password", "wrong-password")
    await page.click("#sign-in-button")
    await page.wait_for_selector("#sign-in-error:has-text('用户名或密码不正确')")

    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#sign-in-button")
    await page.wait_for_selector("article.panel[data-service='placenames']")
    assert await page.evaluate("sessionStorage.getItem('cockpit.token')")
    assert await page.locator("#sign-in").is_hidden() and await page.locator("#controls").is_visible()
    status = await page.inner_text("#status")
    assert status.startswith("宁波市（全市） · 数据时间")

    titles = await page.locator("article.panel h2").all_inner_texts()
    assert [t.split("\n")[0].split("截至")[0].strip() for t in titles] == [
        "养老服务",
        "社会救助",
        "慈善事业",
        "地名地址",
    ]

    async def value(code: str) -> str:
        return await page.inner_text(f"[data-code='{code}'] .value")

    registered = value_of(charity, "organizations_registered")
    assert (await value("charity.organizations")).startswith(_shown(registered))
    organisations = await page.inner_text("[data-code='charity.organizations']")
    assert "全市目标 > 100 家" in organisations and ("已达标" if registered > 100 else "未达标") in organisations
    assert (await value("placenames.standard_addresses")).startswith(_shown(value_of(places, "standard_addresses")))
    # The demo data's gazetteer of real Ningbo names, and its two assisted households: real figures, not zeros.
    assert value_of(places, "standard_names") > 0 and registered > 0
    assert (await value("placenames.standard_names")).startswith(_shown(value_of(places, "standard_names")))
    unified = await page.inner_text("[data-code='placenames.unified_roads']")
    assert unified.startswith("道路名称统一") and "全市目标 ≥ 16 条" in unified
    assert _shown(value_of(places, "unified_roads")) in unified
    dibao = value_of(assistance, "households", area="330200", programme="dibao")
    assert dibao >= 1 and (await value("assistance.dibao")).startswith(_shown(dibao))
    assert (await value("assistance.dibao_standard")).startswith("1,100")  # the demo policy: 1,100 yuan a month

    canteens = value_of(eldercare, "canteens", kind="canteen")
    assert (await value("eldercare.canteens")).startswith(_shown(canteens))
    assert (await value("eldercare.family_beds")).startswith(_shown(value_of(eldercare, "family_beds")))
    share = await page.inner_text("[data-code='eldercare.nursing_share']")
    assert share.startswith("护理型床位占比") and "目标 ≥ 60 %" in share

    # Charts are drawn by the vendored ECharts (a canvas per chart with data), and no script failed.
    assert await page.evaluate("typeof echarts") == "object"
    assert await page.locator(".chart canvas").count() >= 1
    # An indicator a service does not (yet) give says so in words.
    for code in await page.locator(".ind.missing").evaluate_all("els => els.map(e => e.dataset.code)"):
        assert "暂无数据" in await page.inner_text(f"[data-code='{code}']")
    for panel in await page.locator("article.panel.unavailable").all():
        assert "暂不可用" in await panel.inner_text()
    await page.wait_for_timeout(600)  # let the charts' entry animation finish before the screenshot
    await page.screenshot(path=str(ARTIFACTS / "cockpit.png"))
    await page.screenshot(path=str(ARTIFACTS / "cockpit-full.png"), full_page=True)

    # The district filter: 鄞州区's figures, and back to the whole city.
    await page.select_option("#district", "330212")
    await page.wait_for_selector("#status:has-text('鄞州区 · 数据时间')")
    assert await page.locator("article.panel").count() == 4

    # On a 390-px phone everything fits the width: no sideways scrolling, panels one above the other.
    await page.set_viewport_size({"width": 390, "height": 844})
    await page.wait_for_timeout(300)
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    boxes = [await p.bounding_box() for p in await page.locator("article.panel").all()]
    assert all(b["width"] <= 390 for b in boxes) and boxes[1]["y"] > boxes[0]["y"] + boxes[0]["height"] - 1
    await page.screenshot(path=str(ARTIFACTS / "cockpit-phone.png"), full_page=False)
    assert errors == []


async def test_district_staff_see_their_district_only(suite, browser):
    page = await browser.new_page()
    await page.goto(suite.url() + "/cockpit")
    await page.fill("#username", "yinzhou-demo")
    await page.fill("#password", DEMO_PASSWORD)
    await page.click("#sign-in-button")
    await page.wait_for_selector("#status:has-text('鄞州区 · 数据时间')")
    assert await page.locator("#district option").all_inner_texts() == ["鄞州区"]
    assert await page.locator("#district").is_disabled()

    # A screen left open past its 15-minute token renews it with the refresh token, without a sign-in.
    await page.evaluate("sessionStorage.setItem('cockpit.token', 'expired-or-forged')")
    await page.click("#refresh")
    await page.wait_for_function("sessionStorage.getItem('cockpit.token') !== 'expired-or-forged'")
    await page.wait_for_selector("#status:has-text('鄞州区 · 数据时间')")
    assert await page.locator("#sign-in").is_hidden()
    # With the refresh token gone too, the page asks for a sign-in in words.
    await page.evaluate("sessionStorage.setItem('cockpit.token', 'x'); sessionStorage.removeItem('cockpit.refresh')")
    await page.click("#refresh")
    await page.wait_for_selector("#sign-in-error:has-text('登录已过期，请重新登录')")
    await page.close()
