"""Sign in with Bitbucket in a real browser: headless Debian chromium driven by Selenium through
the fake's consent page to a stand-in platform page that shows the verified claims."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import team_data
from tests.fakes.bitbucket_server import FakeBitbucket
from tests.fakes.signin_platform import PlatformPage
from tests.integration.sign_in import SignInRelay, sign_in_relay

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
HOW_TO_INSTALL = "apt-get install -y chromium chromium-driver (README: Sign in with Bitbucket)"

if not (os.access(CHROMIUM, os.X_OK) and os.access(CHROMEDRIVER, os.X_OK)):
    pytest.skip(f"no chromium/chromedriver found; {HOW_TO_INSTALL}", allow_module_level=True)

from selenium import webdriver  # noqa: E402 - only where a browser exists
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SHOTS = os.environ.get("BBRELAY_SCREENSHOTS")  # a directory to keep the screenshots in


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument("--window-size=1000,700")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        yield driver
    finally:
        driver.quit()


def _shot(driver: webdriver.Chrome, tmp: Path, name: str) -> None:
    directory = Path(SHOTS) if SHOTS else tmp
    directory.mkdir(parents=True, exist_ok=True)
    assert driver.save_screenshot(str(directory / f"{name}.png"))


def test_a_person_signs_in_through_the_consent_page_and_lands_verified_on_the_platform(
    redis_url: str, tmp_path: Path, browser: webdriver.Chrome
) -> None:
    relays: list[SignInRelay] = []
    with (
        FakeBitbucket("cloud") as fake,
        PlatformPage(lambda token: relays[0].verify(token)) as platform,
    ):
        team_data.add_member(fake, "acme", 0, group=None)  # permission: owner
        fake.authorization.logged_in = team_data.user_key(0)
        mapping = {"owner": "admin"}
        with sign_in_relay(
            redis_url, tmp_path, fake, ["acme"], mapping, platform=platform.url
        ) as relay:
            relays.append(relay)
            wait = WebDriverWait(browser, 30)
            browser.get(f"{relay.url}/auth/bitbucket/login?next=/projects/7")
            wait.until(lambda d: d.find_elements(By.ID, "grant"))
            assert "authorize sign-in-app" in browser.page_source
            _shot(browser, tmp_path, "1-consent")
            browser.find_element(By.ID, "grant").click()
            wait.until(lambda d: "verifying" not in d.find_element(By.ID, "claims").text)
            _shot(browser, tmp_path, "2-platform")
            claims = json.loads(browser.find_element(By.ID, "claims").text)
            assert browser.current_url.startswith(platform.url)
            assert browser.find_element(By.TAG_NAME, "body").get_attribute("data-next") == (
                "/projects/7"
            )

            browser.get(f"{relay.url}/auth/bitbucket/login")
            wait.until(lambda d: d.find_elements(By.ID, "deny"))
            browser.find_element(By.ID, "deny").click()
            wait.until(lambda d: "Access not granted" in d.page_source)
            _shot(browser, tmp_path, "3-declined")
    assert claims["verified"] is True, claims
    assert (claims["sub"], claims["role"], claims["workspaces"]) == ("acc-00000", "admin", ["acme"])
