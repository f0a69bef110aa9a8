"""Remake the README's listening-report picture from the shipped checkpoints.

    python scripts/report_screenshot.py [--work DIR] [--out docs/images/report.png]

Makes the held-out corpus the registry's generation metrics use (`asmr-zoo data synth --minutes 3
--clip-seconds 7.5 --seed 1`), writes `asmr-zoo report --data ... --seconds 2` and screenshots the top of
its index page at 1280 px in headless Chromium (the system's `chromium`, through Playwright).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def zoo(*args: str, cwd: Path) -> None:
    subprocess.run([sys.executable, "-m", "asmr_zoo", *args], check=True, cwd=cwd)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=REPO / "runs" / "report", help="where corpus and site go")
    parser.add_argument("--out", type=Path, default=REPO / "docs" / "images" / "report.png")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    site = args.work / "site"  # relative paths below, as a user would type them (the page shows its command)
    zoo("data", "synth", "--out", "held-out", "--minutes", "3", "--clip-seconds", "7.5", "--seed", "1", cwd=args.work)
    zoo("report", "--out", "site", "--data", "held-out", "--seconds", "2", "--threads", "1", cwd=args.work)
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        sys.exit("error: no chromium on PATH: install the system package (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000})
        page.goto((site / "index.html").resolve().as_uri())
        page.wait_for_function("[...document.querySelectorAll('audio')].every(a => a.readyState >= 1)")
        page.screenshot(path=str(args.out), clip={"x": 0, "y": 0, "width": 1280, "height": 1000})
        browser.close()
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
