"""Visit plans: what one simulated visitor will send and when. Pure functions of a random generator."""

from __future__ import annotations

import ipaddress
import math
import random
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

from collector.demo import catalog
from collector.demo.catalog import Browser, Country, Crawler, Source

EVENT = "/api/event"
PIXEL = "/p.gif"
INGEST = "/api/ingest"


@dataclass(slots=True, frozen=True)
class Step:
    """One request: wait `delay` seconds, then send `body` to `route` (a JSON POST, or the pixel's query)."""

    delay: float
    route: str
    body: Any
    events: int = 1


@dataclass(slots=True)
class Visit:
    """A simulated visitor: who it looks like (headers) and the requests it will make."""

    kind: str  # human | spike | crawler | scraper | server
    headers: dict[str, str]
    steps: list[Step] = field(default_factory=list)
    scaled: bool = True
    """Whether the pauses are a person's (compressed by the demo's pace) or a machine's (kept as they are)."""
    on_refusal: str = "wait"
    """What a refused request (429) makes the visitor do: wait and go on, or give up."""

    @property
    def events(self) -> int:
        """Events this visit sends in total."""
        return sum(s.events for s in self.steps)


def weighted(rng: random.Random, items: tuple[Any, ...]) -> Any:
    """One item picked by its `weight` attribute."""
    return rng.choices(items, weights=[i.weight for i in items])[0]


def ip_in(rng: random.Random, networks: tuple[str, ...]) -> str:
    """A host address inside one of the networks (never the network or broadcast address)."""
    net = ipaddress.ip_network(rng.choice(networks))
    offset = rng.randrange(1, max(2, net.num_addresses - 1))
    return str(net.network_address + offset)


def pause(rng: random.Random, median: float, sigma: float = 0.8, low: float = 0.5, high: float = 120.0) -> float:
    """A person's irregular pause: log-normal around `median` seconds, clipped."""
    return min(high, max(low, rng.lognormvariate(math.log(median), sigma)))


def browser_headers(browser: Browser, language: str, ip: str, origin: str) -> dict[str, str]:
    """The headers a browser's sendBeacon carries, plus the forwarding header a reverse proxy adds."""
    return {
        "User-Agent": browser.ua,
        "Accept": browser.accept,
        "Accept-Language": language,
        "Accept-Encoding": "gzip, deflate, br",
        "Origin": origin,
        "Content-Type": "text/plain;charset=UTF-8",
        "X-Forwarded-For": ip,
    }


class Page:
    """Builds a visitor's tracker events the way sl.js does (first pageview carries the referrer)."""

    def __init__(self, rng: random.Random, site: str, screen: str) -> None:
        self.rng = rng
        self.site = site
        self.screen = screen
        self.steps: list[Step] = []
        self.url = ""
        self.title = ""
        self._delay = 0.0

    def wait(self, seconds: float) -> None:
        """Time passes before the next request."""
        self._delay += seconds

    def _send(self, body: dict[str, Any]) -> None:
        body["site"] = self.site
        body["screen"] = self.screen
        self.steps.append(Step(self._delay, EVENT, body))
        self._delay = 0.0

    def view(self, path: str, *, referrer: str | None = None, query: str = "", title: str = "") -> None:
        """A pageview: `referrer` only on a full page load (None for an SPA navigation)."""
        self.url = f"https://{self.site}{path}" + (f"?{query}" if query else "")
        self.title = title or catalog.TITLES.get(path, path.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").title())
        body: dict[str, Any] = {"type": "pageview", "url": self.url, "title": self.title}
        if referrer is not None:
            body["referrer"] = referrer
        self._send(body)

    def read(self, median: float = 8.0) -> float:
        """Read the current page for a while; returns the time spent."""
        seconds = pause(self.rng, median)
        self.wait(seconds)
        return seconds

    def engage(self, seconds: float) -> None:
        """The engagement beacon sent when the page is left: visible time and deepest scroll."""
        engaged = int(seconds * 1000 * self.rng.uniform(0.55, 1.0))
        depth = min(100, 25 * max(1, min(4, int(seconds / 6) + self.rng.randint(0, 2))))
        self._send(
            {
                "type": "engagement",
                "url": self.url,
                "title": self.title,
                "engaged_ms": engaged,
                "scroll": depth,
            }
        )

    def event(self, name: str, props: dict[str, str] | None = None) -> None:
        """A custom event from the page (sitelens('event', name, props) or a tagged element)."""
        body: dict[str, Any] = {"type": "event", "name": name, "url": self.url, "title": self.title}
        if props:
            body["props"] = props
        self._send(body)


def _landing(rng: random.Random, site: str, source: Source) -> str:
    """The first page of a visit, given where it came from."""
    if site == catalog.SHOP_SITE:
        return rng.choice(("/", "/", "/collections/new", "/collections/sale", *catalog.PRODUCTS))
    if source.name in (
        "google",
        "bing",
        "duckduckgo",
        "hackernews",
        "reddit",
        "twitter",
        "newsletter",
        "referral",
    ):
        if rng.random() < 0.2:
            return rng.choice(catalog.DOCS_PAGES)
        return rng.choice(catalog.BLOG_POSTS)
    if source.name == "ads":
        return rng.choice(("/pricing", "/"))
    return rng.choice(("/", "/", "/pricing", "/blog/", "/docs/", "/features"))


def human_visit(
    rng: random.Random,
    *,
    kind: str = "human",
    source: Source | None = None,
    landing: str = "",
    site: str = "",
) -> Visit:
    """One person's visit: a landing page from some source, a few pages, events, maybe a funnel."""
    browser = weighted(rng, catalog.BROWSERS)
    country: Country = weighted(rng, catalog.COUNTRIES)
    site = site or rng.choices(catalog.SITES, weights=(65, 35))[0]
    source = source or weighted(rng, catalog.SOURCES)
    ip = ip_in(rng, country.networks)
    visit = Visit(kind, browser_headers(browser, rng.choice(country.languages), ip, f"https://{site}"))
    page = Page(rng, site, rng.choice(browser.screens))

    referrer = rng.choice(source.referrers)
    query = ""
    if source.utm:
        utm_source, utm_medium, utm_campaign = rng.choice(source.utm)
        query = urlencode({"utm_source": utm_source, "utm_medium": utm_medium, "utm_campaign": utm_campaign})
    path = landing or _landing(rng, site, source)
    page.view(path, referrer=referrer, query=query)

    if site == catalog.SHOP_SITE:
        _shop_journey(rng, page, path)
    elif path == "/pricing" or (path == "/" and rng.random() < 0.35):
        _funnel_journey(rng, page, path)
    elif path.startswith("/docs"):
        _docs_journey(rng, page)
    else:
        _reader_journey(rng, page)
    visit.steps = page.steps
    return visit


def _next(page: Page, path: str) -> None:
    """A full page load to another page of the same site (its referrer is the page left)."""
    page.view(path, referrer=page.url)


def _reader_journey(rng: random.Random, page: Page) -> None:
    """Someone reading the blog: most leave after one post, some read on."""
    pages = 1 if rng.random() < 0.45 else rng.randint(2, 5)
    for i in range(pages):
        seconds = page.read(14.0)
        if rng.random() < 0.08:
            page.event(
                "Outbound Link",
                {"url": rng.choice(("https://github.com/example/project", "https://sqlite.org/wal.html"))},
            )
        if rng.random() < 0.05:
            page.event("File Download", {"url": f"https://{page.site}/files/self-hosting-guide.pdf"})
        page.engage(seconds)
        if i == pages - 1:
            break
        page.wait(pause(rng, 0.8, 0.5, 0.2, 4))
        if rng.random() < 0.15:
            _funnel_journey(rng, page, "")
            return
        _next(page, rng.choice((*catalog.BLOG_POSTS, "/blog/", "/", "/about", "/features", "/docs/")))


def _docs_journey(rng: random.Random, page: Page) -> None:
    """The docs are a single-page app: later pages are SPA navigations with no referrer; a chatbot helps."""
    for _ in range(rng.randint(1, 6)):
        seconds = page.read(10.0)
        if rng.random() < 0.25:
            page.event("Search", {"query": rng.choice(catalog.SEARCH_QUERIES[:6])})
        if rng.random() < 0.2:
            page.event(
                "Question",
                {"topic": rng.choice(catalog.CHAT_TOPICS), "answered": "yes" if rng.random() < 0.7 else "no"},
            )
        page.engage(seconds)
        page.wait(pause(rng, 0.5, 0.5, 0.1, 3))
        if rng.random() < 0.25:
            break
        page.view(rng.choice(catalog.DOCS_PAGES))  # SPA navigation: pushState, no referrer


def _funnel_journey(rng: random.Random, page: Page, current: str) -> None:
    """The signup funnel /pricing → /signup → /welcome, with people dropping off at each step."""
    if current != "/pricing":
        if current:
            seconds = page.read(6.0)
            page.engage(seconds)
            page.wait(pause(rng, 0.6, 0.5, 0.2, 3))
        _next(page, "/pricing")
    seconds = page.read(12.0)
    page.engage(seconds)
    if rng.random() < 0.45:  # drop-off at pricing
        return
    page.wait(pause(rng, 0.6, 0.5, 0.2, 3))
    _next(page, "/signup")
    seconds = page.read(20.0)
    if rng.random() < 0.45:  # drop-off at the form
        page.engage(seconds)
        return
    plan = rng.choices(catalog.PLANS, weights=(50, 25, 18, 7))[0]
    page.event("Form Submit", {"form": "signup"})
    page.event("Signup", {"plan": plan})
    page.engage(seconds)
    page.wait(pause(rng, 1.0, 0.4, 0.3, 4))
    _next(page, "/welcome")
    page.engage(page.read(10.0))


def _shop_journey(rng: random.Random, page: Page, landing: str) -> None:
    """A shopper: browse and search, maybe add to cart, a few check out."""
    carted = False
    for _ in range(rng.randint(1, 6)):
        seconds = page.read(9.0)
        if page.url.endswith("/search") or rng.random() < 0.12:
            page.event("Search", {"query": rng.choice(catalog.SEARCH_QUERIES[6:])})
        if "/products/" in page.url and rng.random() < 0.3:
            page.event("Add to Cart", {"product": page.url.split("?", 1)[0].rsplit("/", 1)[-1]})
            carted = True
        page.engage(seconds)
        if rng.random() < 0.3:
            break
        page.wait(pause(rng, 0.6, 0.5, 0.2, 3))
        _next(page, rng.choice((*catalog.PRODUCTS, *catalog.SHOP_PAGES)))
    if carted and rng.random() < 0.4:
        page.wait(pause(rng, 1.0, 0.5, 0.2, 4))
        _next(page, "/cart")
        page.engage(page.read(5.0))
        page.wait(pause(rng, 1.0, 0.5, 0.2, 4))
        _next(page, "/checkout")
        seconds = page.read(25.0)
        if rng.random() < 0.6:
            page.event("Purchase", {"total": f"{rng.uniform(15, 240):.2f}", "currency": "EUR"})
            page.engage(seconds)
            _next(page, "/checkout/thank-you")
            page.engage(page.read(4.0))
        else:
            page.engage(seconds)


def spike_visit(rng: random.Random) -> Visit:
    """A visitor of a traffic spike: a post on the Hacker News front page sends a crowd to one article."""
    source = next(s for s in catalog.SOURCES if s.name == "hackernews")
    return human_visit(
        rng, kind="spike", source=source, landing="/blog/bot-traffic-is-half-the-web", site="example.com"
    )


def crawler_visit(rng: random.Random) -> Visit:
    """A known crawler fetching many pages; renderers run the tracker, the others load the noscript pixel."""
    crawler: Crawler = weighted(rng, catalog.CRAWLERS)
    site = rng.choices(catalog.SITES, weights=(70, 30))[0]
    ip = ip_in(rng, crawler.networks)
    headers = {
        "User-Agent": crawler.ua,
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        "X-Forwarded-For": ip,
    }
    if crawler.renders_js:
        headers["Content-Type"] = "text/plain;charset=UTF-8"
    visit = Visit("crawler", headers, scaled=False, on_refusal="wait")
    if site == catalog.SHOP_SITE:
        pool = [*catalog.PRODUCTS, *catalog.SHOP_PAGES]
    else:
        pool = [*catalog.SITE_PAGES, *catalog.BLOG_POSTS, *catalog.DOCS_PAGES, "/signup"]
    rng.shuffle(pool)
    delay = 0.0
    for path in pool[: rng.randint(8, len(pool))]:
        url = f"https://{site}{path}"
        if crawler.renders_js:
            title = catalog.TITLES.get(path, path.rstrip("/").rsplit("/", 1)[-1].replace("-", " ").title())
            body: Any = {
                "site": site,
                "type": "pageview",
                "url": url,
                "title": title,
                "referrer": "",
                "screen": "412x732" if "Android" in crawler.ua else "1024x1024",
            }
            visit.steps.append(Step(delay, EVENT, body))
        else:
            visit.steps.append(Step(delay, PIXEL, {"site": site, "url": url}))
        delay = rng.uniform(0.4, 2.5)
    return visit


def scraper_visit(rng: random.Random, interval: float = 0.4, pages: int = catalog.SCRAPER_PAGES) -> Visit:
    """A scraper with a browser User-Agent walking /page/1 … /page/N at a steady rhythm from a data centre."""
    site = catalog.SCRAPER_SITE
    ip = ip_in(rng, catalog.SCRAPER_NETWORKS)
    headers = {
        "User-Agent": catalog.SCRAPER_UA,
        "Accept": "*/*",
        "Accept-Language": "en-US,en;q=0.9",
        "Origin": f"https://{site}",
        "Content-Type": "text/plain;charset=UTF-8",
        "X-Forwarded-For": ip,
    }
    visit = Visit("scraper", headers, scaled=False, on_refusal="wait")
    for n in range(1, pages + 1):
        url = f"https://{site}/page/{n}"
        body = {
            "site": site,
            "type": "pageview",
            "url": url,
            "title": f"Archive — page {n}",
            "referrer": "",
            "screen": "1920x1080",
        }
        visit.steps.append(Step(0.0 if n == 1 else interval * rng.uniform(0.98, 1.02), EVENT, body))
    return visit


def server_visit(rng: random.Random) -> Visit:
    """A second of the demo shop's API as its backend reports it: requests, logins, calls to paid services."""
    events: list[dict[str, Any]] = []  # no "site": the ingest token says which site they belong to
    for _ in range(rng.randint(3, 12)):
        browser = weighted(rng, catalog.BROWSERS)
        user = {"ip": ip_in(rng, weighted(rng, catalog.COUNTRIES).networks), "ua": browser.ua}
        method, template, median, _w = rng.choices(
            catalog.API_ENDPOINTS, weights=[e[3] for e in catalog.API_ENDPOINTS]
        )[0]
        roll = rng.random()
        status = 200 if method == "GET" else 201
        if roll < 0.03:
            status = rng.choice((500, 502, 504))
        elif roll < 0.08:
            status = rng.choice((400, 404, 401, 422))
        latency = pause(rng, median, 0.6, 1.0, 30_000.0)
        api: dict[str, Any] = {
            "type": "api_request",
            "method": method,
            "endpoint": template.replace("{id}", str(rng.randint(1, 400))),
            "status": status,
            "latency_ms": round(latency, 1),
            "response_bytes": rng.randint(200, 40_000),
            **user,
        }
        if status >= 500:
            api["error"] = rng.choice(("upstream timeout", "database is locked", "KeyError: 'sku'"))
        events.append(api)
        if template == "/api/v1/chat":
            tokens = rng.randint(200, 4000)
            events.append(
                {
                    "type": "external_call",
                    "service": "openai",
                    "method": "POST",
                    "endpoint": "/v1/chat/completions",
                    "status": 200 if roll > 0.02 else 429,
                    "latency_ms": round(latency * 0.85, 1),
                    "cost_usd": round(tokens * 0.000005, 6),
                    "tokens": tokens,
                }
            )
        if template == "/api/v1/orders" and status == 201:
            events.append(
                {
                    "type": "external_call",
                    "service": "stripe",
                    "method": "POST",
                    "endpoint": "/v1/payment_intents",
                    "status": 200,
                    "latency_ms": round(pause(rng, 280.0, 0.4, 50, 5000), 1),
                    "cost_usd": 0.0,
                }
            )
    if rng.random() < 0.3:
        action = rng.choices(("login", "login_failed", "signup", "logout"), weights=(70, 12, 8, 10))[0]
        events.append(
            {
                "type": "auth",
                "action": action,
                "user_id": f"user-{rng.randint(1, 900)}",
                "endpoint": "/api/v1/login" if action.startswith("login") else f"/api/v1/{action}",
                "method": "POST",
                "status": 401 if action == "login_failed" else 200,
                "ip": ip_in(rng, weighted(rng, catalog.COUNTRIES).networks),
                "ua": weighted(rng, catalog.BROWSERS).ua,
            }
        )
    if rng.random() < 0.05:
        plan = rng.choices(catalog.PLANS[1:], weights=(55, 35, 10))[0]
        events.append({"type": "custom", "name": "Invoice Paid", "props": {"plan": plan}})
    if rng.random() < 0.04:  # a credential-stuffing burst from one address
        attacker = ip_in(rng, catalog.SCRAPER_NETWORKS)
        for _ in range(rng.randint(15, 40)):
            events.append(
                {
                    "type": "auth",
                    "action": "login_failed",
                    "user_id": f"{rng.choice(('admin', 'root', 'test', 'info'))}{rng.randint(1, 99)}",
                    "endpoint": "/api/v1/login",
                    "method": "POST",
                    "status": 401,
                    "ip": attacker,
                    "ua": "python-requests/2.31.0",
                }
            )
    visit = Visit("server", {"Content-Type": "application/json"}, scaled=False, on_refusal="give-up")
    visit.steps.append(Step(0.0, INGEST, events, events=len(events)))
    return visit


def pixel_query(body: dict[str, str]) -> str:
    """The query string of a noscript pixel request."""
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in body.items())
