"""Benchmark the app as a browser sees it: cold start to the first page, and click-to-render
time for every page (first visit, which may load a model, and a second visit), with no training
running. Prints one JSON object. Not collected by pytest.

    python tests/e2e/bench_app.py [--models assets/models]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_browser import CHROMIUM, CHROMIUM_ARGS, free_port  # noqa: E402

from ui.nav import PAGES  # noqa: E402


def idle(pg, timeout: float = 120) -> None:
    quiet, deadline = 0, time.time() + timeout
    while quiet < 2 and time.time() < deadline:
        pg.wait_for_timeout(50)
        state = pg.evaluate("() => document.querySelector('[data-testid=stApp]')?.dataset.testScriptState")
        busy = state == "running" or pg.locator('[data-testid="stSpinner"]').count() > 0
        quiet = 0 if busy else quiet + 1


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--models", default=str(ROOT / "assets" / "models"))
    parser.add_argument(
        "--read-home", type=float, default=10.0, help="seconds a student spends on Home before the first click"
    )
    args = parser.parse_args()
    from playwright.sync_api import expect, sync_playwright

    port = free_port()
    env = {**os.environ, "RLHF_MODELS_DIR": str(Path(args.models).resolve()), "HF_HUB_OFFLINE": "1"}
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port", str(port)]
    t0 = time.time()
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    result: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} CPUs", "models": args.models}
    try:
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        result["server_ready_s"] = round(time.time() - t0, 2)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            pg = browser.new_page(viewport={"width": 1400, "height": 900})
            pg.goto(url)
            expect(pg.locator("h1").first).to_contain_text("RLHF Playground", timeout=60_000)
            result["cold_start_to_home_s"] = round(time.time() - t0, 2)
            idle(pg)
            pg.wait_for_timeout(args.read_home * 1000)
            result["read_home_s"] = args.read_home
            clicks: dict = {}
            for visit in ("first", "second"):
                for spec in PAGES:
                    start = time.time()
                    pg.locator('[data-testid="stSidebarNav"]').get_by_role("link", name=spec.title, exact=True).click()
                    heading = "RLHF Playground" if spec.key == "home" else spec.title
                    expect(pg.locator("h1").first).to_contain_text(heading, timeout=120_000)
                    idle(pg)
                    clicks.setdefault(spec.key, {})[visit] = round(time.time() - start, 2)
            result["click_to_render_s"] = clicks
            browser.close()
    finally:
        proc.terminate()
        proc.wait(10)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
