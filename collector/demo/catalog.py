"""What the demo traffic is made of: browsers, countries, referrers, sites and their pages, crawlers."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(slots=True, frozen=True)
class Browser:
    """A real browser a person might use: its User-Agent, the headers it sends with a beacon, its screens."""

    ua: str
    device: str  # desktop | mobile | tablet
    screens: tuple[str, ...]
    weight: float
    accept: str = "*/*"


DESKTOP_SCREENS = ("1920x1080", "2560x1440", "1536x864", "1440x900", "1366x768", "3840x2160", "1680x1050")
PHONE_SCREENS = ("390x844", "393x852", "412x915", "360x800", "430x932", "384x854")
TABLET_SCREENS = ("820x1180", "768x1024", "1024x1366", "800x1280")

BROWSERS: tuple[Browser, ...] = (
    Browser(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        DESKTOP_SCREENS,
        24,
    ),
    Browser(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/125.0.0.0 Safari/537.36",
        "desktop",
        DESKTOP_SCREENS,
        8,
    ),
    Browser(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        DESKTOP_SCREENS,
        10,
    ),
    Browser(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
        "desktop",
        DESKTOP_SCREENS,
        3,
    ),
    Browser(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
        "desktop",
        DESKTOP_SCREENS,
        7,
    ),
    Browser(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        DESKTOP_SCREENS,
        5,
    ),
    Browser(
        "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
        "desktop",
        DESKTOP_SCREENS,
        3,
    ),
    Browser(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:126.0) Gecko/20100101 Firefox/126.0",
        "desktop",
        DESKTOP_SCREENS,
        2,
    ),
    Browser(
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Safari/605.1.15",
        "desktop",
        DESKTOP_SCREENS,
        6,
    ),
    Browser(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "mobile",
        PHONE_SCREENS,
        14,
    ),
    Browser(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
        "mobile",
        PHONE_SCREENS,
        2,
    ),
    Browser(
        "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/126.0.0.0 Mobile Safari/537.36",
        "mobile",
        PHONE_SCREENS,
        12,
    ),
    Browser(
        "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
        "SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
        "mobile",
        PHONE_SCREENS,
        3,
    ),
    Browser("Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0", "mobile", PHONE_SCREENS, 1),
    Browser(
        "Mozilla/5.0 (iPad; CPU OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/17.5 Mobile/15E148 Safari/604.1",
        "tablet",
        TABLET_SCREENS,
        3,
    ),
)


@dataclass(slots=True, frozen=True)
class Country:
    """A country visitors come from: address blocks typical of its consumer ISPs, and its languages."""

    code: str
    networks: tuple[str, ...]
    languages: tuple[str, ...]
    weight: float


# Blocks allocated to large consumer ISPs of each country (only used as X-Forwarded-For values).
COUNTRIES: tuple[Country, ...] = (
    Country(
        "US",
        ("73.0.0.0/8", "24.16.0.0/13", "71.192.0.0/12", "98.192.0.0/11"),
        ("en-US,en;q=0.9", "en-US,en;q=0.9,es;q=0.8"),
        32,
    ),
    Country("GB", ("86.128.0.0/11", "81.128.0.0/12", "90.192.0.0/11"), ("en-GB,en;q=0.9",), 9),
    Country(
        "DE",
        ("79.192.0.0/10", "87.128.0.0/10", "91.0.0.0/10"),
        ("de-DE,de;q=0.9,en;q=0.8", "de,en;q=0.7"),
        10,
    ),
    Country("FR", ("90.0.0.0/9", "86.192.0.0/10"), ("fr-FR,fr;q=0.9,en;q=0.8",), 7),
    Country("NL", ("84.24.0.0/13", "77.160.0.0/12"), ("nl-NL,nl;q=0.9,en;q=0.8", "en-US,en;q=0.9"), 4),
    Country("ES", ("88.0.0.0/11", "83.32.0.0/11"), ("es-ES,es;q=0.9,en;q=0.8",), 4),
    Country("IT", ("79.0.0.0/12", "93.32.0.0/13"), ("it-IT,it;q=0.9,en;q=0.8",), 3),
    Country("SE", ("90.224.0.0/12",), ("sv-SE,sv;q=0.9,en;q=0.8",), 2),
    Country("PL", ("83.0.0.0/11",), ("pl-PL,pl;q=0.9,en;q=0.8",), 2),
    Country("CA", ("174.88.0.0/13", "184.144.0.0/12"), ("en-CA,en;q=0.9,fr-CA;q=0.8", "fr-CA,fr;q=0.9"), 5),
    Country("BR", ("177.0.0.0/10", "187.0.0.0/11"), ("pt-BR,pt;q=0.9,en;q=0.8",), 5),
    Country("IN", ("117.192.0.0/10", "49.32.0.0/12"), ("en-IN,en;q=0.9,hi;q=0.8", "en-US,en;q=0.9"), 7),
    Country("JP", ("126.0.0.0/9", "60.32.0.0/12"), ("ja-JP,ja;q=0.9,en;q=0.8", "ja,en-US;q=0.9"), 4),
    Country("KR", ("211.192.0.0/11", "121.128.0.0/11"), ("ko-KR,ko;q=0.9,en-US;q=0.8",), 2),
    Country("AU", ("1.120.0.0/13", "101.160.0.0/12"), ("en-AU,en;q=0.9",), 3),
)


@dataclass(slots=True, frozen=True)
class Source:
    """How a visit started: a referrer template and optional UTM tags added to the landing URL."""

    name: str
    referrers: tuple[str, ...]
    weight: float
    utm: tuple[tuple[str, str, str], ...] = ()  # (utm_source, utm_medium, utm_campaign) choices


SOURCES: tuple[Source, ...] = (
    Source("direct", ("",), 26),
    Source("google", ("https://www.google.com/", "https://www.google.de/", "https://www.google.co.uk/"), 24),
    Source("bing", ("https://www.bing.com/",), 5),
    Source("duckduckgo", ("https://duckduckgo.com/",), 5),
    Source("twitter", ("https://t.co/x7Kq2LmZpA", "https://t.co/9fB3nWvRtE", "https://x.com/"), 6),
    Source(
        "reddit",
        ("https://www.reddit.com/r/selfhosted/comments/1d9xk2q/", "https://old.reddit.com/r/webdev/"),
        6,
    ),
    Source("hackernews", ("https://news.ycombinator.com/item?id=40612345", "https://news.ycombinator.com/"), 5),
    Source(
        "newsletter",
        ("", "https://mail.google.com/", "https://outlook.live.com/"),
        9,
        (
            ("newsletter", "email", "june-digest"),
            ("newsletter", "email", "launch-week"),
            ("mailchimp", "email", "spring-sale"),
        ),
    ),
    Source(
        "referral",
        (
            "https://github.com/example/project",
            "https://dev.to/someone/self-hosting-analytics",
            "https://lobste.rs/s/abc123",
        ),
        6,
    ),
    Source(
        "ads",
        ("https://www.google.com/",),
        4,
        (("google", "cpc", "brand-search"), ("google", "cpc", "pricing")),
    ),
)


BLOG_POSTS = (
    "/blog/cookieless-analytics",
    "/blog/self-hosting-on-a-small-vps",
    "/blog/sqlite-in-production",
    "/blog/why-we-dropped-google-analytics",
    "/blog/bot-traffic-is-half-the-web",
    "/blog/terminal-dashboards",
    "/blog/privacy-by-design",
    "/blog/release-1-0",
)
DOCS_PAGES = (
    "/docs/",
    "/docs/getting-started",
    "/docs/install",
    "/docs/configuration",
    "/docs/tracker",
    "/docs/funnels",
    "/docs/bots",
    "/docs/api",
    "/docs/faq",
)
SITE_PAGES = ("/", "/about", "/blog/", "/pricing", "/contact", "/features", "/changelog")
TITLES: dict[str, str] = {
    "/": "Example — analytics you own",
    "/about": "About us",
    "/blog/": "Blog",
    "/pricing": "Pricing",
    "/signup": "Create your account",
    "/welcome": "Welcome aboard",
    "/contact": "Contact",
    "/features": "Features",
    "/changelog": "Changelog",
}

PRODUCTS = (
    "/products/linen-shirt",
    "/products/wool-socks",
    "/products/canvas-tote",
    "/products/leather-wallet",
    "/products/rain-jacket",
    "/products/ceramic-mug",
    "/products/desk-lamp",
    "/products/notebook-a5",
)
SHOP_PAGES = ("/", "/collections/new", "/collections/sale", "/search", "/cart", "/about")
SEARCH_QUERIES = (
    "self hosted analytics",
    "sqlite wal",
    "bot detection",
    "pricing",
    "gdpr",
    "funnels",
    "linen shirt",
    "socks",
    "gift card",
    "tote bag",
    "rain jacket size",
)
CHAT_TOPICS = ("install", "pricing", "privacy", "billing", "api", "export", "bots")
PLANS = ("free", "starter", "pro", "business")

SHOP_SITE = "shop.example.com"
"""The demo shop: its own landing pages and journeys (the other site is a SaaS with a blog and docs)."""
SITES = ("example.com", SHOP_SITE)
SCRAPER_SITE = "example.com"
SCRAPER_PAGES = 120
"""The scraper walks /page/1 … /page/N of the blog archive."""


@dataclass(slots=True, frozen=True)
class Crawler:
    """A well-known crawler: its User-Agent, the network it crawls from and how it reaches the collector."""

    name: str
    ua: str
    networks: tuple[str, ...]
    renders_js: bool
    """Crawlers that render pages run the tracker; the others only load the noscript pixel."""
    weight: float


CRAWLERS: tuple[Crawler, ...] = (
    Crawler(
        "Googlebot",
        "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/126.0.6478.126 Mobile Safari/537.36 (compatible; Googlebot/2.1; "
        "+http://www.google.com/bot.html)",
        ("66.249.64.0/19",),
        True,
        30,
    ),
    Crawler(
        "Bingbot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; bingbot/2.0; "
        "+http://www.bing.com/bingbot.htm) Chrome/116.0.1938.76 Safari/537.36",
        ("157.55.39.0/24", "40.77.167.0/24", "207.46.13.0/24"),
        True,
        15,
    ),
    Crawler(
        "AhrefsBot",
        "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
        ("54.36.148.0/23", "51.222.253.0/24"),
        False,
        12,
    ),
    Crawler(
        "SemrushBot",
        "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
        ("185.191.171.0/24",),
        False,
        8,
    ),
    Crawler(
        "Applebot",
        "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
        "Version/13.1.1 Safari/605.1.15 (Applebot/0.1; +http://www.apple.com/go/applebot)",
        ("17.241.0.0/16",),
        True,
        5,
    ),
    Crawler(
        "GPTBot",
        "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; GPTBot/1.2; +https://openai.com/gptbot)",
        ("20.171.206.0/24",),
        False,
        6,
    ),
    Crawler(
        "YandexBot",
        "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
        ("5.255.253.0/24", "213.180.203.0/24"),
        False,
        4,
    ),
    Crawler(
        "DuckDuckBot",
        "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
        ("20.191.45.0/24",),
        False,
        3,
    ),
)

SCRAPER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
)
SCRAPER_NETWORKS = ("45.76.0.0/15", "104.238.128.0/18", "139.59.0.0/16")
"""Rented servers: scrapers run from hosting networks, not from homes."""

# Server-side traffic of the demo API (POST /api/ingest).
API_ENDPOINTS: tuple[tuple[str, str, float, float], ...] = (
    # method, path, median latency ms, weight
    ("GET", "/api/v1/products", 18.0, 30),
    ("GET", "/api/v1/products/{id}", 12.0, 25),
    ("POST", "/api/v1/cart", 35.0, 10),
    ("POST", "/api/v1/orders", 120.0, 4),
    ("GET", "/api/v1/search", 60.0, 15),
    ("POST", "/api/v1/chat", 900.0, 6),
    ("GET", "/api/v1/me", 8.0, 10),
)
