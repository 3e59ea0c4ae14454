"""The quarterly newsletters of a small demo city: made for every centre, readable, accessible,
laid out for a phone, true to the statistics, and never showing a count from 1 to 7.

One pipeline (demo, load, dbt build with the disclosure unit tests, publish, reports) is
built for the module; the browser checks use headless Chromium through Debian's chromedriver.
"""

from __future__ import annotations

import csv
import json
import re
import shutil
import stat
import tempfile
from pathlib import Path

import duckdb
import pytest
import textstat
import textstat.backend.counts._count_syllables

from cc_warehouse.build import disclosure_audit
from cc_warehouse.reports import newsletter as nl
from html_tree import parse
from pipeline import State

PHONE_WIDTH = 390
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
COUNT_COLUMNS = ("numerator", "denominator")


@pytest.fixture(scope="module")
def city(tmp_path_factory) -> State:
    state = State(tmp_path_factory.mktemp("newsletter"))
    state.python(
        "cc_warehouse", "demo",
        "--out", str(state.landing), "--seed", "7", "--births-per-year", "900",
        "--centres", "4", "--lsoas", "24", "--years", "6", "--quiet",
    )  # fmt: skip
    state.python("cc_warehouse", "load", "--no-validate")
    state.transform("--no-freshness")  # as `make transform`: the audit completes the suppression
    state.python("cc_warehouse", "reports")
    return state


def _edition(city: State) -> Path:
    """The folder of the default edition: the latest quarter written."""
    manifests = (city.reports / "newsletters").glob("*/manifest.json")
    return max(manifests, key=lambda p: json.loads(p.read_text())["period_label"]).parent


def _pages(city: State) -> list[Path]:
    return sorted(_edition(city).glob("*.html"))


def _centres(city: State) -> list[tuple[str, str]]:
    return city.query(
        "select area_code, area_name from dim_area where area_type = 'centre' order by 1", published=True
    )


# ---------------------------------------------------------------- made for every centre


def test_a_newsletter_and_a_pdf_for_every_centre(city):
    folder = _edition(city)
    centres = _centres(city)
    assert len(centres) == 4
    manifest = json.loads((folder / "manifest.json").read_text())
    index = (city.reports / "newsletters" / "index.html").read_text()
    for code, name in centres:
        html = (folder / f"{code}.html").read_text()
        assert name.replace("'", "&#39;") in html
        pdf = (folder / f"{code}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF") and len(pdf) > 10_000
        # A4: 595 x 842 points
        boxes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([\d.]+) ([\d.]+)\s*\]", pdf)
        assert boxes and all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in boxes)
        assert f"{folder.name}/{code}.html" in index and f"{folder.name}/{code}.pdf" in index
    assert [c["code"] for c in manifest["centres"]] == [code for code, _ in centres]
    assert (folder / "city-E06999999.html").exists() or list(folder.glob("city-*.html"))
    # the latest complete quarter, with its rolling year
    (latest,) = city.query(
        """select max_by(period_label, period_start) from dim_period
        where period_type = 'quarter' and is_complete""",
        published=True,
    )[0:1]
    assert manifest["period_label"] == latest[0]
    assert manifest["rolling"] == f"12 months to {latest[0]}"


def test_self_contained_no_external_requests(city):
    for page in _pages(city):
        html = page.read_text()
        assert not re.search(r"<(script|link|img|iframe)\b", html), page.name
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), page.name
        assert "@import" not in html and "url(http" not in html


def test_a_quarter_can_be_asked_for(city, monkeypatch, capsys):
    (quarter,) = city.query(
        """select period_label from dim_period where period_type = 'quarter' and is_complete
        order by period_start desc limit 1 offset 2""",
        published=True,
    )[0]
    for name, value in city.env().items():
        if name.startswith("CC_"):
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("CC_PERIOD", quarter)
    assert nl.main(["--no-pdf"]) == 0
    folder = city.reports / "newsletters" / nl.period_slug(quarter)
    first = json.loads((folder / "manifest.json").read_text())["centres"][0]["file"]
    page = parse((folder / first).read_text())
    periods = {a.attrs["data-period"] for a in page.find_all("article", cls="indicator")}
    assert f"12 months to {quarter}" in periods
    index = (city.reports / "newsletters" / "index.html").read_text()
    assert f"{nl.period_slug(quarter)}/" in index and _edition_names(city) == 2
    assert nl.main(["--no-pdf", "--period", "1999/00 Q1"]) == 1
    assert "no complete quarter '1999/00 Q1'" in capsys.readouterr().err


def _edition_names(city: State) -> int:
    return len(list((city.reports / "newsletters").glob("*/manifest.json")))


def test_without_a_boundary_file_the_newsletters_say_there_are_no_maps(city, tmp_path):
    copy = tmp_path / "published.duckdb"
    shutil.copy(city.published, copy)
    copy.chmod(stat.S_IRUSR | stat.S_IWUSR)
    con = duckdb.connect(str(copy))
    con.execute("delete from dim_lsoa_boundary")
    con.close()
    written = nl.write_newsletters(copy, tmp_path / "reports", pdf=False)
    assert not written.maps and any("without maps" in note for note in written.notes)
    html = written.newsletters[0].read_text()
    assert 'class="map-figure"' not in html and "there are no maps" in html
    with_maps = (_edition(city) / written.newsletters[0].name).read_text()
    assert 'class="map-figure"' in with_maps


# ---------------------------------------------------------------- disclosure


def _assert_public_count(value: str, where: str) -> None:
    if value in ("*", ""):
        return
    count = int(value.replace(",", ""))
    assert not 1 <= count <= 7, f"{where}: count {count} from 1 to 7"
    assert count % 5 == 0, f"{where}: count {count} not rounded to 5"


def test_no_count_from_1_to_7_in_any_newsletter(city):
    seen = 0
    for page in _pages(city):
        for element in parse(page.read_text()).find_all(cls="count"):
            shown, marked = element.text(), element.attrs["data-count"]
            assert shown.replace(",", "") == marked, page.name
            _assert_public_count(marked, page.name)
            seen += 1
    assert seen > 50
    # the analysts' marts do hold small counts: the check above is not vacuous
    (small,) = city.query(
        "select count(*) from fct_indicator_values where numerator between 1 and 7", published=True
    )[0]
    assert small > 0


def test_no_count_from_1_to_7_in_the_public_export(city):
    path = city.reports / "public" / "pub_indicator_values.csv"
    with path.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    (published,) = city.query("select count(*) from pub_indicator_values", published=True)[0]
    assert len(rows) == published > 0
    stars = 0
    for row in rows:
        for column in COUNT_COLUMNS:
            _assert_public_count(row[column], f"{row['area_code']} {row['period_label']} {column}")
        if row["is_suppressed"] == "true":
            assert row["value_pct"] == row["lower_95"] == row["upper_95"] == "*"
            stars += 1
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), value
    assert stars > 0
    assert not {r["period_type"] for r in rows} & {"quarter"}


def test_the_published_figures_pass_the_disclosure_audit(city):
    # an attacker with every published figure and relation narrows no hidden count of 1 to 7
    # beyond the protection rule (cc_warehouse.disclosure_audit, docs/methods.md)
    with duckdb.connect(str(city.published), read_only=True) as con:
        result = disclosure_audit.audit(con)
    assert result.small_hidden > 100, "the city has small counts for the audit to try"
    assert result.passed, disclosure_audit.report(result)


def test_disclosure_unit_tests_and_recoverability_test_ran_and_passed(city):
    results = json.loads((city.root / "target" / "run_results.json").read_text())["results"]
    # a versioned model's unit tests are named with its version (pub_indicator_values v1)
    by_name = {re.sub(r"_v\d+$", "", r["unique_id"].split(".")[-1]): r["status"] for r in results}
    unit_tests = {
        n: s for n, s in by_name.items() if n.startswith("pub_indicator_values_") and "unit" not in n
    }
    for name in (
        "pub_indicator_values_small_numerator_and_secondary_across_centres",
        "pub_indicator_values_rounding_and_zero",
        "pub_indicator_values_secondary_across_breakdowns",
        "pub_indicator_values_small_denominator_and_cascade",
        "assert_no_suppressed_count_recoverable",
    ):
        assert by_name.get(name) == "pass", (name, by_name.get(name))
    assert unit_tests


# ---------------------------------------------------------------- words true to the statistics


def _phrases(mapping: dict[str, str], **places: str) -> dict[str, str]:
    return {value: phrase.format(**places) for value, phrase in mapping.items()}


def test_comparison_words_agree_with_the_statistics(city):
    folder = _edition(city)
    published = {
        (code, iid, period): (vs_la, vs_england, change, low, suppressed)
        for code, iid, period, vs_la, vs_england, change, low, suppressed in city.query(
            """select area_code, indicator_id, period_label, vs_la, vs_england, change_vs_year_earlier,
                low_coverage, is_suppressed
            from pub_indicator_values where breakdown = 'all'""",
            published=True,
        )
    }
    # trends are tested on years only
    trends = {
        (code, iid, period): (period_type, trend)
        for code, iid, period, period_type, trend in city.query(
            """select area_code, indicator_id, period_label, period_type, trend
            from pub_indicator_values where breakdown = 'all'""",
            published=True,
        )
    }
    checked = 0
    trends_checked = set()
    for code, _ in _centres(city):
        page = parse((folder / f"{code}.html").read_text())
        for article in page.find_all("article", cls="indicator"):
            key = (code, article.attrs["data-indicator"], article.attrs["data-period"])
            if key not in published:
                assert article.attrs["data-status"] == "missing"
                continue
            vs_la, vs_england, change, low, suppressed = published[key]
            assert article.attrs["data-vs-la"] == vs_la
            assert article.attrs["data-vs-england"] == vs_england
            assert article.attrs["data-change"] == change
            narrative = " ".join(p.text() for p in article.find_all("p", cls="narrative"))
            if low or suppressed:
                # no claim at all for a value that is hidden or not reliable
                assert not article.find_all(cls="comparison"), key
                assert not re.search(r"(similar to|better than|worse than|higher than|lower than)", narrative)
            if low and not suppressed:
                assert "not reliable" in article.text() and "reliable figure" in narrative
            expected = {"vs_la": vs_la, "vs_england": vs_england, "change": change}
            for claim in article.find_all(attr="data-comparison"):
                kind, value = claim.attrs["data-comparison"], claim.attrs["data-value"]
                if kind == "trend":
                    period_type, trend = trends[(code, key[1], claim.attrs["data-period"])]
                    assert period_type in ("financial_year", "academic_year"), key
                    assert value == (trend or "none"), key
                    assert claim.text().strip() == nl.TREND_WORDS.get(trend, nl.TREND_TOO_SHORT), key
                    trends_checked.add(value)
                    continue
                assert value == expected[kind], key
                _assert_words(kind, value, claim.text())
                checked += 1
        # the summary at the top says the same as the cards
        for item in page.find_all("li", attr="data-indicator"):
            for claim in item.find_all(attr="data-comparison"):
                key = (code, item.attrs["data-indicator"])
                value = claim.attrs["data-value"]
                matches = [v for k, v in published.items() if k[:2] == key and v[0] == value]
                assert matches, key
                _assert_words("vs_la", value, claim.text())
                checked += 1
    assert checked > 40
    # the test city's six years give the last financial and school years a tested trend
    assert trends_checked - {"none"}, trends_checked


def _assert_words(kind: str, value: str, text: str) -> None:
    if kind == "change":
        phrases = _phrases(nl.CHANGE_PHRASES, then="a year ago") | _phrases(
            nl.CHANGE_PHRASES, then="the school year before"
        )
        own = [p for v, p in _phrases(nl.CHANGE_PHRASES, then="").items() if v == value]
        others = [p for v, p in _phrases(nl.CHANGE_PHRASES, then="").items() if v != value]
        assert any(o.strip() in text for o in own), (value, text)
        assert not any(o.strip() in text for o in others), (value, text)
        assert phrases
        if value == "no_change":
            assert "bigger than chance" not in text
        return
    place = "the city" if kind == "vs_la" else "England"
    phrases = _phrases(nl.VS_PHRASES, place=place)
    if value in phrases:
        assert phrases[value] in text, (value, text)
    assert not any(p in text for v, p in phrases.items() if v != value), (value, text)
    if value == "similar":
        assert "bigger than chance" not in text


# ---------------------------------------------------------------- reading age


def test_narrative_reads_at_grade_6_or_below(city, monkeypatch):
    # textstat 0.7.13 counts English syllables with NLTK's CMU dictionary, which it would
    # download at run time (no network here); its fallback, the Pyphen hyphenation
    # dictionary shipped in the package, counts them instead.
    monkeypatch.setattr(textstat.backend.counts._count_syllables, "get_cmudict", lambda lang: None)
    textstat.set_lang("en_GB")
    for code, _ in _centres(city):
        page = parse((_edition(city) / f"{code}.html").read_text())
        narrative = "\n".join(p.text() for p in page.find_all(cls="narrative"))
        assert len(narrative.split()) > 300
        grade = textstat.flesch_kincaid_grade(narrative)
        assert grade <= 6, (code, grade)


# ---------------------------------------------------------------- in a browser


@pytest.fixture(scope="module")
def browser():
    if not (CHROMIUM and CHROMEDRIVER):
        pytest.skip("headless Chromium and chromedriver are needed")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="cc-test-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--window-size=1200,900",
    ]:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _open_on_phone(driver, page: Path) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": PHONE_WIDTH, "height": 844, "deviceScaleFactor": 1, "mobile": True},
    )
    driver.get(page.resolve().as_uri())


LAYOUT_CHECK = """
const vw = document.documentElement.clientWidth;
const wide = [];
for (const e of document.querySelectorAll('body *')) {
  const r = e.getBoundingClientRect();
  const name = e.tagName + '.' + (e.className.baseVal ?? e.className);
  if (r.width > 0 && (r.right > vw + 1 || r.left < -1)) wide.push(name);
}
const charts = [...document.querySelectorAll('.chart')].map(c => {
  const svg = c.querySelector('svg'); const r = svg ? svg.getBoundingClientRect() : null;
  return {label: c.getAttribute('aria-label') || '', role: c.getAttribute('role'),
          svg: !!svg, width: r ? r.width : 0, height: r ? r.height : 0,
          shapes: svg ? svg.querySelectorAll('path, line, polygon, rect, use').length : 0};
});
// a drawing that spills out of its chart is cut off on screen
const clipped = [];
for (const svg of document.querySelectorAll('.chart svg')) {
  const b = svg.getBoundingClientRect();
  for (const e of svg.querySelectorAll('text')) {
    const r = e.getBoundingClientRect();
    if (r.width > 0 && (r.left < b.left - 2 || r.right > b.right + 2 || r.top < b.top - 2
                        || r.bottom > b.bottom + 2)) clipped.push(e.textContent);
  }
}
const broken = [...document.images].filter(i => !i.complete || i.naturalWidth === 0).map(i => i.src);
const shownCards = document.querySelectorAll('article.indicator[data-status="shown"]').length;
const cardsWithCharts = document.querySelectorAll('article.indicator[data-status="shown"] .chart svg').length;
const requests = performance.getEntriesByType('resource').map(r => r.name);
return {vw, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 10), charts, broken,
        clipped, shownCards, cardsWithCharts, requests};
"""


def test_phone_layout_has_no_overflow_and_every_chart(city, browser):
    shots = city.reports / "screenshots"
    shots.mkdir(exist_ok=True)
    folder = _edition(city)
    pages = [folder / f"{_centres(city)[0][0]}.html", *folder.glob("city-*.html")]
    for page in pages:
        _open_on_phone(browser, page)
        result = browser.execute_script(LAYOUT_CHECK)
        assert result["vw"] == PHONE_WIDTH
        assert result["scrollWidth"] <= PHONE_WIDTH, (page.name, result["wide"])
        assert not result["wide"], (page.name, result["wide"])
        assert not result["broken"] and not result["requests"], page.name
        assert not result["clipped"], (page.name, result["clipped"][:5])
        assert result["charts"], page.name
        for chart in result["charts"]:
            assert chart["svg"] and chart["role"] == "img" and len(chart["label"]) > 30, chart
            assert chart["width"] > 200 and chart["height"] > 60 and chart["shapes"] > 5, chart
        if page.name.startswith("CC"):
            assert result["cardsWithCharts"] == result["shownCards"] > 0
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": PHONE_WIDTH, "height": min(height, 16000), "deviceScaleFactor": 1, "mobile": True},
        )
        screenshot = shots / f"{page.stem}-{PHONE_WIDTH}px.png"
        assert browser.save_screenshot(str(screenshot))
        assert screenshot.stat().st_size > 20_000
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


def test_no_serious_or_critical_accessibility_violations(city, browser):
    from axe_selenium_python import Axe

    folder = _edition(city)
    # the newsletter as parents read it (on a phone), the overview as practitioners do (at a desk)
    pages = [(folder / f"{_centres(city)[0][0]}.html", True)]
    pages += [(page, False) for page in folder.glob("city-*.html")]
    for page, phone in pages:
        if phone:
            _open_on_phone(browser, page)
        else:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            browser.get(page.resolve().as_uri())
        axe = Axe(browser)
        axe.inject()
        results = axe.run()
        serious = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
            for v in results["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not serious, (page.name, phone, serious)
        assert results["passes"], "axe ran no checks"
    browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
