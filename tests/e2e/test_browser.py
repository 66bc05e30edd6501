"""End to end in a real browser: ``streamlit run app.py`` on a free localhost port, driven by
Debian's headless Chromium through the ``playwright`` package (never ``playwright install``).

Visits every page through the sidebar (as a student would), does the lock-picking exercise, runs a
short live training, and saves a full-page screenshot of every page in ``tests/e2e/screenshots/``
(gitignored) for a person to look at. Models are tiny fixtures; set ``RLHF_E2E_MODELS`` to a
models folder (e.g. ``assets/models``) to take the screenshots with the shipped models instead.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (apt-get install -y chromium)", allow_module_level=True)
try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:
    pytest.skip("the playwright package is missing (pip install playwright==1.65.2)", allow_module_level=True)

sys.path.insert(0, str(ROOT))
from ui.nav import PAGES  # noqa: E402


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def models_dir(tmp_path_factory) -> Path:
    given = os.environ.get("RLHF_E2E_MODELS")
    if given:
        return Path(given).resolve()
    from rlhf_core.playground import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("models"))


@pytest.fixture(scope="module")
def server(models_dir):
    port = free_port()
    env = {
        **os.environ,
        "RLHF_MODELS_DIR": str(models_dir),
        "RLHF_PRESET": os.environ.get("RLHF_E2E_PRESET", "tiny"),
        "RLHF_THREADS": "1",
        "HF_HUB_OFFLINE": "1",
    }
    cmd = [
        sys.executable, "-m", "streamlit", "run", "app.py",
        "--server.headless", "true",
        "--server.port", str(port),
        "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false",
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    if SHOTS.exists():
        shutil.rmtree(SHOTS)
    SHOTS.mkdir(parents=True)
    log = open(SHOTS / "streamlit.log", "w")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).status == 200:
                    break
            except OSError:
                time.sleep(0.3)
        else:
            pytest.fail("streamlit did not start within 60 s (see tests/e2e/screenshots/streamlit.log)")
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser(server):
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


def new_page(browser, server, **context_options):
    context = browser.new_context(viewport={"width": 1400, "height": 900}, **context_options)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    pg.goto(server)
    return pg


@pytest.fixture(scope="module")
def page(browser, server):
    pg = new_page(browser, server)
    yield pg
    pg.context.close()


def settle(pg) -> None:
    """Wait until the script run has finished: the app's script state is no longer "running"
    and no spinner is left (two checks in a row, as a fragment may start a short rerun)."""
    quiet = 0
    deadline = time.time() + 120
    while quiet < 2 and time.time() < deadline:
        pg.wait_for_timeout(250)
        state = pg.evaluate("() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState")
        busy = state == "running" or pg.locator('[data-testid="stSpinner"]').count() > 0
        quiet = 0 if busy else quiet + 1


def no_errors(pg, where: str) -> None:
    assert pg.locator('[data-testid="stException"]').count() == 0, f"an exception is shown on {where}"
    body = pg.locator("body").inner_text()
    assert "Traceback" not in body, f"a stack trace is shown on {where}"


def shoot(pg, n: int, key: str) -> None:
    """A screenshot of the whole page. Streamlit scrolls inside its main container, so the
    viewport is stretched to the content's height first (a plain full_page shot would stop at
    the fold)."""
    height = pg.evaluate(
        "() => Math.max(...[...document.querySelectorAll('[data-testid=stMain], [data-testid=stSidebarContent]')]"
        ".map(e => e.scrollHeight), 900)"
    )
    pg.set_viewport_size({"width": 1400, "height": min(int(height) + 40, 12_000)})
    pg.wait_for_timeout(500)
    pg.screenshot(path=str(SHOTS / f"{n:02d}_{key}.png"), full_page=True)
    pg.set_viewport_size({"width": 1400, "height": 900})


def open_page(pg, spec) -> None:
    pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=spec.title, exact=True).click()
    heading = "RLHF Playground" if spec.key == "home" else spec.title
    expect(pg.locator("h1").first).to_contain_text(heading, timeout=60_000)
    settle(pg)


def test_every_page_lock_exercise_and_live_training(page):
    pg = page
    expect(pg.locator("h1").first).to_contain_text("RLHF Playground")
    settle(pg)
    no_errors(pg, "home")
    # The pipeline's stages are links to their lessons.
    assert pg.locator("main").get_by_role("link", name="SFT", exact=True).count() == 1
    shoot(pg, 0, "home")

    for n, spec in enumerate(PAGES[1:], 1):
        open_page(pg, spec)
        no_errors(pg, spec.title)

        if spec.key == "preferences":
            expect(pg.get_by_text("How do I pick a lock?").first).to_be_visible()
            pg.get_by_role("button", name="B is better").first.click()
            expect(pg.get_by_text("RLHF training would prefer").first).to_be_visible(timeout=60_000)
            settle(pg)
            expect(pg.get_by_text("What the real models answer")).to_be_visible()
            no_errors(pg, "the lock-picking feedback")

        if spec.key == "sft":
            pg.get_by_role("button", name="Train live").click()
            expect(pg.get_by_text(re.compile(r"Done: \d+ steps"))).to_be_visible(timeout=180_000)
            settle(pg)
            # The live charts were drawn from the run's history and the badge switched to "your own".
            assert pg.locator('[data-testid="stPlotlyChart"]').count() >= 2
            expect(pg.get_by_text(re.compile("Using your own SFT model")).first).to_be_visible()
            no_errors(pg, "SFT after training")

        shoot(pg, n, spec.key)

    # Start DPO and leave the page at once: the job keeps training; the sidebar monitor notices
    # the end and Home (drawn by app.py's frame) then lists the student's own DPO model.
    dpo = next(spec for spec in PAGES if spec.key == "dpo")
    open_page(pg, dpo)
    pg.get_by_role("button", name="Train live").click()
    pg.wait_for_timeout(300)
    open_page(pg, PAGES[0])
    expect(pg.get_by_text(re.compile(r"your own \(trained")).nth(1)).to_be_visible(timeout=180_000)
    settle(pg)
    no_errors(pg, "home after training")
    assert pg.get_by_text(re.compile(r"your own \(trained")).count() == 2  # SFT and DPO
    shoot(pg, len(PAGES), "home_after")
    assert len(list(SHOTS.glob("*.png"))) == len(PAGES) + 1


def test_dark_theme_pages(browser, server):
    """The same app for a viewer whose system prefers dark: the pages with our own colours
    (checklists, cards, token strips) are screenshotted for a person to check the contrast."""
    pg = new_page(browser, server, color_scheme="dark")
    expect(pg.locator("h1").first).to_contain_text("RLHF Playground")
    settle(pg)
    background = pg.evaluate("() => getComputedStyle(document.querySelector('[data-testid=stApp]')).backgroundColor")
    assert background != "rgb(255, 255, 255)", "the app did not follow the dark preference"
    for spec in PAGES:
        if spec.key in ("home", "sft", "preferences", "ppo"):
            open_page(pg, spec)
            if spec.key == "preferences":
                pg.get_by_role("button", name="B is better").first.click()
                expect(pg.get_by_text("RLHF training would prefer").first).to_be_visible(timeout=60_000)
                settle(pg)
            no_errors(pg, f"{spec.title} (dark)")
            shoot(pg, 90 + PAGES.index(spec), f"dark_{spec.key}")
    pg.context.close()
