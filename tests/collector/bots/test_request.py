"""Per-request bot verdicts: strong UA evidence alone, weak hints only when two kinds agree."""

from __future__ import annotations

from collector.bots.request import assess_request, classify_ua, is_probe_path

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0.0.0 Safari/537.36"
)
HEADERS = {"accept": "*/*", "accept_language": "en-GB,en;q=0.9"}


def verdict(ua: str = CHROME, **kw: object):  # type: ignore[no-untyped-def]
    args: dict[str, object] = {
        **HEADERS,
        "webdriver": False,
        "path": "/blog/hello",
        "hosting_org": False,
        "browser_like": True,
    }
    args.update(kw)
    return assess_request(ua, **args)  # type: ignore[arg-type]


def test_plain_browser_request_is_human_with_no_reasons() -> None:
    v = verdict()
    assert (v.is_bot, v.bot_name, v.reasons) == (False, "", ())


def test_known_crawler_is_a_bot_on_its_own_and_named() -> None:
    v = verdict("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)")
    assert v.is_bot
    assert v.bot_name == "Googlebot"
    assert v.reasons == ("crawler:Googlebot",)


def test_http_libraries_and_headless_browsers_are_bots() -> None:
    for ua, name in [
        ("curl/8.4.0", "curl"),
        ("python-requests/2.31.0", "python-requests"),
        ("Go-http-client/1.1", "Go-http-client"),
        (CHROME.replace("Chrome/", "HeadlessChrome/"), "HeadlessChrome"),
    ]:
        v = verdict(ua)
        assert v.is_bot, ua
        assert v.bot_name == name
        assert v.reasons[0].startswith("tool:")


def test_empty_and_dash_user_agents_are_bots() -> None:
    assert verdict("").is_bot
    assert verdict("   ").reasons == ("empty-ua",)
    assert verdict("-").is_bot


def test_unlisted_non_browser_agent_is_a_bot_named_by_its_product() -> None:
    v = verdict("Catchpoint/3.1 synthetic")
    assert v.is_bot and v.bot_name == "Catchpoint"
    assert v.reasons == ("not-browser",)


def test_browser_shaped_ua_carrying_a_url_identifies_a_bot() -> None:
    v = verdict(CHROME + " (+https://monitor.example.net/about)")
    assert v.is_bot
    assert v.bot_name == "monitor.example.net"


def test_one_weak_hint_alone_is_not_enough() -> None:
    assert not verdict(accept_language=None).is_bot
    assert verdict(accept_language=None).reasons == ("header:no-accept-language",)
    assert not verdict(webdriver=True).is_bot
    assert not verdict(path="/wp-login.php").is_bot
    assert not verdict(hosting_org=True).is_bot


def test_two_kinds_of_weak_hints_agreeing_make_a_bot() -> None:
    v = verdict(webdriver=True, hosting_org=True)
    assert v.is_bot and v.bot_name == "automation"
    assert set(v.reasons) == {"webdriver", "hosting-network"}
    v = verdict(path="/.env", accept=None, accept_language=None)
    assert v.is_bot and v.bot_name == "scanner"


def test_two_header_anomalies_are_one_kind_of_signal() -> None:
    v = verdict(accept=None, accept_language="")
    assert not v.is_bot
    assert set(v.reasons) == {"header:no-accept", "header:no-accept-language"}


def test_imported_log_lines_have_no_header_evidence() -> None:
    v = verdict(accept=None, accept_language=None, headers_known=False, path="/.git/config")
    assert not v.is_bot
    assert v.reasons == ("probe-path",)


def test_header_checks_only_apply_to_browser_uas() -> None:
    assert verdict(accept=None, accept_language=None, browser_like=False, hosting_org=True).reasons == (
        "hosting-network",
    )


def test_rare_real_browsers_are_not_mistaken_for_bots() -> None:
    for ua in [
        "Mozilla/5.0 (compatible; Konqueror/4.5; Linux) KHTML/4.5.5 (like Gecko)",
        "Mozilla/5.0 (Linux; Android 4.0.3; HTC_Ruby Build/IML74K) AppleWebKit/534.30 (KHTML, like Gecko) "
        "Version/4.0 Mobile Safari/534.30",
        "Mozilla/5.0 (compatible; MSIE 10.0; Windows NT 6.1; Trident/6.0)",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0.0.0",
    ]:
        assert not verdict(ua).is_bot, ua


def test_probe_paths() -> None:
    for path in ["/.env", "/api/.env", "/.git/HEAD", "/wp-login.php", "/xmlrpc.php", "/phpmyadmin/index.php"]:
        assert is_probe_path(path), path
    for path in ["/", "/blog/git-tips", "/environment", "/pricing", "/docs/wp-guide"]:
        assert not is_probe_path(path), path


def test_huge_hostile_user_agent_is_cut_and_classified() -> None:
    ua = "Mozilla/5.0 (" + "A" * 100_000
    assert classify_ua(ua).kind == "not-browser"
    assert classify_ua(ua) is classify_ua(ua[:600])  # cached under the cut UA, not the 100 kB one
