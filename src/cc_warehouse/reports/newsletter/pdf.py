"""Printing the newsletters' HTML pages to A4 PDFs with headless Chromium (through
selenium and chromedriver when they are installed: one browser for every page).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cc_warehouse import progress
from cc_warehouse.reports.newsletter.errors import NewsletterError


def chromium_path() -> str | None:
    configured = os.environ.get("CC_CHROMIUM")
    if configured:
        return configured
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


_CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def print_pdf(html: Path, pdf: Path, chromium: str) -> None:
    """An A4 PDF of a page, printed by headless Chromium (the page's @page rule sets the size)."""
    with tempfile.TemporaryDirectory(prefix="cc-chromium-") as profile:
        temporary = pdf.with_name(f".{pdf.name}.tmp")
        command = [
            chromium,
            *_CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            "--no-pdf-header-footer",
            f"--print-to-pdf={temporary}",
            html.resolve().as_uri(),
        ]
        result = subprocess.run(command, capture_output=True, text=True, timeout=180)
        if result.returncode != 0 or not temporary.exists() or temporary.stat().st_size == 0:
            temporary.unlink(missing_ok=True)
            raise NewsletterError(f"Chromium could not print {html.name}: {result.stderr[-500:]}")
        os.replace(temporary, pdf)


def _print_with_driver(pages: list[Path], chromium: str, chromedriver: str) -> None:
    """Every page printed in one browser session (DevTools Page.printToPDF): about 1 s a page
    instead of a new browser for each."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    with tempfile.TemporaryDirectory(prefix="cc-chromium-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in [*_CHROMIUM_FLAGS, f"--user-data-dir={profile}"]:
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(chromedriver), options=options)
        try:
            for page in progress.bar(pages, "printing PDFs", "page"):
                driver.get(page.resolve().as_uri())
                printed = driver.execute_cdp_cmd(
                    "Page.printToPDF",
                    {"preferCSSPageSize": True, "printBackground": True, "displayHeaderFooter": False},
                )
                pdf = page.with_suffix(".pdf")
                temporary = pdf.with_name(f".{pdf.name}.tmp")
                temporary.write_bytes(base64.b64decode(printed["data"]))
                os.replace(temporary, pdf)
        finally:
            driver.quit()


def print_pdfs(pages: Sequence[Path], chromium: str) -> list[Path]:
    chromedriver = os.environ.get("CC_CHROMEDRIVER") or shutil.which("chromedriver")
    try:
        import selenium  # noqa: F401

        has_selenium = True
    except ImportError:
        has_selenium = False
    if chromedriver and has_selenium:
        _print_with_driver(list(pages), chromium, chromedriver)
    else:
        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(lambda page: print_pdf(page, page.with_suffix(".pdf"), chromium), pages))
    return [page.with_suffix(".pdf") for page in pages]
