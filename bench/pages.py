"""Benchmark of page loads in a real browser: the home map and a provider with 50 licenses.

Usage: python bench/pages.py [--database-url URL] [--providers N] [--loads N] [--warmup N]
                             [--requests N] [--seed S] [--json PATH]

Builds a throw-away database (a temporary SQLite file by default; with a PostgreSQL URL the
tables in that database are dropped and rebuilt), so never point it at real data. It imports
data/state_rules.csv and the population of bench/eligibility.py (``--providers``, from the same
generator and seed, so that the provider page is read from a registry of realistic size), then
creates through the services, as the forms would, a manager account
(``accounts.services.create_user``) and one provider holding 50 active licenses in 50
jurisdictions, two dry-needling courses and five board registrations (each change audited, so
the page's history has 58 entries).

The app runs under gunicorn, 2 sync workers (bench/gate.py's ``Server``, serving
bench/gate_wsgi.py), on a free 127.0.0.1 port. The manager signs in once (``GET /login``,
``POST /login``); its session cookie is given to the browser and to the plain HTTP client.
Three pages are timed:

* ``/``: the home page, a map of the 52 jurisdictions coloured by status, and the same data
  as a table;
* ``/providers/<id>``: the provider with 50 licenses (map coloured by their eligibility,
  every credential, what is missing per state, the history);
* ``/bench/page``: the baseline, the smallest HTML page the same server gives (no stylesheet,
  script or image; the same session cookie).

(1) Browser: Debian's chromium (``/usr/bin/chromium``, or ``$CHROMIUM``) through Playwright
    for Python, headless, one tab. Each round loads each page once (``page.goto``, in turn,
    so that noise from the shared machine falls on all three alike); after ``--warmup``
    rounds, ``--loads`` rounds are timed. The figure is the Navigation Timing API's
    ``loadEventEnd - startTime`` (navigation start to the end of the load event: the HTML,
    its stylesheet, its script and everything else the load event waits for). The tab keeps
    its cache between loads, as a returning user's does: the assets are revalidated, not
    fetched again. Any request to another origin is a failure (the pages must work offline),
    and so is an answer other than 200 or a redirect.
(2) Server time: ``--requests`` sequential ``GET``s of each page (again in turn) with
    ``http.client``, each on a new connection (the sync worker closes it after each answer):
    from sending the request to having read the whole body.

Ratios are the baseline's time over the page's (1.0: as quick as the minimal page). Prints
one table; nothing here asserts a speed.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import headline  # noqa: E402
from bench.eligibility import generate, load_population  # noqa: E402
from bench.gate import PASSWORD, Server, signed_in_client  # noqa: E402
from registry import create_app  # noqa: E402
from registry.accounts.services import create_user  # noqa: E402
from registry.extensions import db  # noqa: E402
from registry.providers import services as providers  # noqa: E402
from registry.providers.npi import npi_check_digit  # noqa: E402
from registry.rules.reference import JURISDICTION_CODES  # noqa: E402
from registry.rules.services import Actor  # noqa: E402
from registry.scratch import database_version, load_state_rules, rebuild_schema  # noqa: E402

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
#: as tests/browser/conftest.py launches it: no sandbox (containers), nothing in the background
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
MANAGER = "bench-manager@example.org"
LICENSES = 50
BASELINE = "minimal"
NAVIGATION = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {load: n.loadEventEnd - n.startTime, ttfb: n.responseStart - n.startTime,
          dom: n.domContentLoadedEventEnd - n.startTime, status: n.responseStatus || 0};
}"""


# --- the database -----------------------------------------------------------------------------------
def prepare_database(app, n_providers: int, seed: int) -> dict:
    """Rules, the background population, the manager and the provider with 50 licenses."""
    with app.app_context():
        rule_versions = load_state_rules()
        population = generate(n_providers, seed) if n_providers else None
        if population:
            load_population(population)
        taken = {p["npi"] for p in population["provider"]} if population else set()
        del population
        create_user(MANAGER, "manager", PASSWORD, actor_label="bench")
        actor = Actor(None, "bench")
        rng = random.Random(seed + 50)
        while True:
            first_nine = str(rng.randint(100_000_000, 299_999_999))
            npi = first_nine + str(npi_check_digit(first_nine))
            if npi not in taken:
                break
        provider = providers.create_provider({"name": "Morgan Fifty-States", "npi": npi, "profession_code": "PT", "email": "morgan.fifty@example.org"}, actor=actor)
        codes = sorted(JURISDICTION_CODES)
        held = rng.sample(codes, LICENSES)
        for k, code in enumerate(sorted(held)):
            providers.add_credential("license", provider, {
                "jurisdiction_code": code, "profession_code": "PT", "number": f"PT-{code}-{10_000 + k}",
                "issued_on": date(2010 + k % 12, 1 + k % 12, 1 + k % 28), "expires_on": date(2027 + k % 3, 1 + (k * 5) % 12, 28),
                "status": "active", "is_compact_privilege": False,
            }, actor=actor)
        for title, day, total, practical in (("Dry Needling Level 1", date(2019, 3, 9), "27", "20"), ("Dry Needling Level 2", date(2021, 10, 16), "27", "22")):
            providers.add_credential("training", provider, {
                "course_title": title, "sponsor": "Bench Institute", "approving_body": "APTA", "completed_on": day,
                "total_hours": Decimal(total), "practical_hours": Decimal(practical), "supervised_sessions": 0, "expires_on": None,
            }, actor=actor)
        for k, code in enumerate(sorted(held)[:5]):
            providers.add_credential("registration", provider, {
                "jurisdiction_code": code, "number": f"DN-{code}-{k + 1}", "issued_on": date(2022, 1, 1), "expires_on": date(2027, 12, 31), "status": "active",
            }, actor=actor)
        provider_id = provider.id
        db.session.commit()
        db.session.remove()
        db.engine.dispose()  # the server has the database to itself
    return {"rule_versions": rule_versions, "provider_id": provider_id, "held": held}


# --- signing in ---------------------------------------------------------------------------------------
def sign_in(port: int) -> dict[str, str]:
    """The manager's session cookies (name -> value)."""
    client = signed_in_client(port, MANAGER)
    client.conn.close()
    return dict(client.cookies)


def check_pages(port: int, cookie: str, targets: dict[str, str], held: list[str]) -> None:
    """Each page answers 200 signed in, and the provider page lists its 50 licenses."""
    for name, path in targets.items():
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        conn.request("GET", path, headers={"Cookie": cookie})
        response = conn.getresponse()
        body = response.read().decode("utf-8", "replace")
        conn.close()
        if response.status != 200:
            raise RuntimeError(f"GET {path} answered {response.status}")
        if name == "provider":
            missing = [code for k, code in enumerate(sorted(held)) if f"PT-{code}-{10_000 + k}" not in body]
            if missing:
                raise RuntimeError(f"the provider page does not list the licenses in {missing}")


# --- (1) the browser ---------------------------------------------------------------------------------
def browser_loads(base: str, cookies: dict[str, str], targets: dict[str, str], loads: int, warmup: int) -> dict:
    from playwright.sync_api import sync_playwright

    if not os.path.exists(CHROMIUM):
        raise SystemExit(f"Debian chromium not found at {CHROMIUM}: apt-get install chromium (or `make chromium`)")
    samples: dict[str, dict[str, list[float]]] = {name: {"load": [], "ttfb": [], "dom": []} for name in targets}
    requests: dict[str, int] = dict.fromkeys(targets, 0)
    foreign: list[str] = []
    failed: list[str] = []
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            version = browser.version
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.add_cookies([{"name": k, "value": v, "url": base} for k, v in cookies.items()])
            page = context.new_page()
            page.set_default_timeout(60_000)
            counting = [None]

            def on_request(request) -> None:
                if counting[0]:
                    requests[counting[0]] += 1
                if not request.url.startswith((base + "/", "data:", "blob:", "about:")):
                    foreign.append(request.url)

            page.on("request", on_request)
            page.on("requestfailed", lambda request: failed.append(f"{request.url}: {request.failure}"))
            page.on("pageerror", lambda error: errors.append(str(error)))
            for round_ in range(warmup + loads):
                timed = round_ >= warmup
                for name, path in targets.items():
                    counting[0] = name if round_ == warmup else None  # requests of one timed load
                    response = page.goto(base + path, wait_until="load")
                    if response is None or response.status != 200 or page.url != base + path:
                        raise RuntimeError(f"loading {path} ended at {page.url} with {response and response.status}")
                    page.wait_for_function("() => performance.getEntriesByType('navigation')[0].loadEventEnd > 0")
                    timing = page.evaluate(NAVIGATION)
                    if timed:
                        for key in ("load", "ttfb", "dom"):
                            samples[name][key].append(timing[key])
            counting[0] = None
            context.close()
        finally:
            browser.close()
    return {"samples": samples, "requests": requests, "foreign": foreign, "failed": failed, "errors": errors, "version": version}


# --- (2) server time ---------------------------------------------------------------------------------
def server_times(port: int, cookie: str, targets: dict[str, str], requests: int, warmup: int) -> dict[str, dict]:
    out = {name: {"ms": [], "bytes": 0} for name in targets}
    for round_ in range(warmup + requests):
        for name, path in targets.items():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            t0 = time.perf_counter()
            conn.request("GET", path, headers={"Cookie": cookie})
            response = conn.getresponse()
            body = response.read()
            elapsed = (time.perf_counter() - t0) * 1000
            conn.close()
            if response.status != 200:
                raise RuntimeError(f"GET {path} answered {response.status}")
            if round_ >= warmup:
                out[name]["ms"].append(elapsed)
                out[name]["bytes"] = len(body)
    return out


def summary(ms: list[float]) -> str:
    return f"mean {statistics.mean(ms):,.1f} ms, p50 {headline.percentile(ms, .5):,.1f} ms, p99 {headline.percentile(ms, .99):,.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--providers", type=int, default=20_000, help="background population (bench/eligibility.py's generator)")
    parser.add_argument("--loads", type=int, default=50, help="timed browser loads of each page")
    parser.add_argument("--warmup", type=int, default=5, help="untimed loads (and requests) of each page first")
    parser.add_argument("--requests", type=int, default=200, help="timed http.client requests of each page")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the headline figures to PATH as JSON (bench/headline.py)")
    args = parser.parse_args()
    # a SIGTERM unwinds like Ctrl-C, so gunicorn and chromium are stopped
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started = time.perf_counter()
    tmp = tempfile.TemporaryDirectory()
    try:
        report(args, tmp.name, started)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        tmp.cleanup()


def report(args, tmpdir: str, started: float) -> None:
    url = args.database_url or f"sqlite:///{tmpdir}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "SECRET_KEY": "bench", "TESTING": False})
    rebuild_schema(app)
    with app.app_context():
        backend, server_version = database_version()
        db.session.remove()
    t0 = time.perf_counter()
    made = prepare_database(app, args.providers, args.seed)
    prepared = time.perf_counter() - t0
    targets = {"home": "/", "provider": f"/providers/{made['provider_id']}", BASELINE: "/bench/page"}
    out: list[tuple[str, str]] = [
        ("database", f"{args.providers:,} providers (bench/eligibility.py's generator) + 1 with {LICENSES} licenses, 2 courses, 5 registrations; {made['rule_versions']} rule versions ({prepared:.1f} s)"),
    ]
    logdir = Path(tmpdir) / "log"
    logdir.mkdir()
    server = Server(url, str(logdir))
    try:
        server.wait_ready()
        cookies = sign_in(server.port)
        cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
        check_pages(server.port, cookie, targets, made["held"])
        base = f"http://127.0.0.1:{server.port}"
        seen = browser_loads(base, cookies, targets, args.loads, args.warmup)
        served = server_times(server.port, cookie, targets, args.requests, args.warmup)
        log = server.log_tail()
    finally:
        server.stop()

    out.append(("server, browser", f"gunicorn, 2 sync workers, 127.0.0.1:{server.port}; chromium {seen['version']} headless (Playwright), one tab, cache kept; signed in as a manager"))
    figures = []
    browser_base = statistics.mean(seen["samples"][BASELINE]["load"])
    server_base = statistics.mean(served[BASELINE]["ms"])
    labels = {"home": "home map page `/`", "provider": f"provider page, {LICENSES} licenses", BASELINE: "minimal page (baseline)"}
    for name, path in targets.items():
        load = seen["samples"][name]["load"]
        ttfb = seen["samples"][name]["ttfb"]
        ratio = "" if name == BASELINE else f"; ratio minimal/page {browser_base / statistics.mean(load):.2f}"
        out.append((f"(1) browser load {path}", f"{summary(load)}; first byte p50 {headline.percentile(ttfb, .5):,.1f} ms; {seen['requests'][name]} requests a load{ratio}"))
    for name, path in targets.items():
        ms = served[name]["ms"]
        ratio = "" if name == BASELINE else f"; ratio minimal/page {server_base / statistics.mean(ms):.2f}"
        out.append((f"(2) server time {path}", f"{summary(ms)}; {served[name]['bytes'] / 1024:,.1f} KiB{ratio}"))
    for name in ("home", "provider"):
        load = seen["samples"][name]["load"]
        figures.append(headline.figure(
            f"pages.{name}", f"{labels[name]}: browser load", statistics.mean(load), "ms mean load",
            baseline=browser_base, baseline_label="minimal HTML page, same server and browser", higher_is_better=False,
            p50=headline.percentile(load, .5), p99=headline.percentile(load, .99), latency_of="navigation start to load event end",
        ))
    for name in ("home", "provider"):
        ms = served[name]["ms"]
        figures.append(headline.figure(
            f"pages.{name}.server", f"{labels[name]}: server time, http.client", statistics.mean(ms), "ms mean",
            baseline=server_base, baseline_label="minimal HTML page, http.client", higher_is_better=False,
            p50=headline.percentile(ms, .5), p99=headline.percentile(ms, .99), latency_of="request sent to body read",
        ))
    problems = []
    if seen["foreign"]:
        problems.append(f"requests left the server (the pages must work offline): {sorted(set(seen['foreign']))[:5]}")
    if seen["failed"]:
        problems.append(f"requests failed: {seen['failed'][:5]}")
    out.append(("(1) requests to other origins", "none" if not seen["foreign"] else f"{len(seen['foreign'])}: {sorted(set(seen['foreign']))[:5]}"))
    out.append(("(1) failed requests, script errors", f"{len(seen['failed'])}, {len(seen['errors'])}" + (f": {seen['errors'][:3]}" if seen["errors"] else "")))
    if "Traceback" in log:
        out.append(("gunicorn log (tail)", log.replace("\n", "\n" + " " * 40)))
        problems.append("gunicorn logged a traceback")

    headline.print_report(f"page-load benchmark: {backend} {server_version}, {args.loads} loads and {args.requests} requests of each page after {args.warmup} warm-up", out, rule=100)
    headline.write(args.json, "pages", backend, server_version, figures, problems=problems,
                   params={"providers": args.providers, "loads": args.loads, "warmup": args.warmup, "requests": args.requests, "chromium": seen["version"]},
                   seconds=time.perf_counter() - started)
    if problems:
        print("\n".join(f"PROBLEM: {p}" for p in problems), file=sys.stderr)
        raise SystemExit(1)


if __name__ == "__main__":
    main()
