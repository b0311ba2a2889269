"""Remove personal data (e-mails, tokens, card numbers, SSNs, secrets) from URLs and values before storage.

One set of rules for every ingest path (tracker, server-side ingest, log import, import-json): by name (query
parameters and event property keys that say "secret": password, token, api_key, ssn, card, cvv …) and by shape
(e-mail, JWT, US SSN, card number passing Luhn, long hex or base64 secrets) in paths, query strings, referrers,
titles, property values, event names and user ids.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final
from urllib.parse import unquote

import orjson

EMAIL_TOKEN: Final = "redacted-email"
SECRET_TOKEN: Final = "redacted-token"
CARD_TOKEN: Final = "redacted-card"
SSN_TOKEN: Final = "redacted-ssn"
PARAM_TOKEN: Final = "redacted"

# Pre-filters, kept cheap for Python's re (no alternations): a possible card-number run and a
# 32-character token-like run. The slow path checks precisely what they let through.
_DIGIT_CANDIDATE_RE: Final = re.compile(r"[0-9][0-9 +\-]{11,}[0-9]")
_LONG_RUN_RE: Final = re.compile(r"(?<![A-Za-z0-9_\-+])[A-Za-z0-9_\-+]{32}")
# URLs longer than this are redacted but not cached, so the cache stays small.
_MAX_CACHED_URL: Final = 2048

# E-mails are found from each '@' (or "%40") outwards, so text without one costs a single scan
# and a long run before an '@' is walked once, not re-scanned from every position.
_AT_RE: Final = re.compile(r"@|%40")
_EMAIL_DOMAIN_RE: Final = re.compile(
    r"[A-Za-z0-9\-]{1,63}(?:\.[A-Za-z0-9\-]{1,63}){0,8}\.[A-Za-z]{2,24}(?![A-Za-z0-9\-])"
)
_EMAIL_LOCAL_CHARS: Final = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-")
_MAX_LOCAL_PART: Final = 64  # RFC 5321
_JWT_RE: Final = re.compile(r"eyJ[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]{4,}\.[A-Za-z0-9_\-]*")
# Runs of digit groups with single separators between them (cards are found inside, see _card).
_CARD_RE: Final = re.compile(r"[0-9]+(?:[ +\-\ue000][0-9]+)*")
_SPACE_MARK: Final = "\ue000"
"""Stands for an encoded space ("%20") while cards are looked for, so its "20" is not read as digits."""
_UUID_RE: Final = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
_TOKEN_RE: Final = re.compile(r"(?<![A-Za-z0-9_\-+])[A-Za-z0-9_\-+]{32,}={0,2}")
_ALNUM_RUN_RE: Final = re.compile(r"[A-Za-z0-9]{16,}")
# Free text may carry standard base64 ("/" included); in URLs "/" separates path segments instead.
_TEXT_TOKEN_RE: Final = re.compile(r"(?<![A-Za-z0-9_\-+/])[A-Za-z0-9_\-+/]{32,}={0,2}")
_HEX_CHARS: Final = frozenset("0123456789abcdefABCDEF")
# US social security numbers as written (123-45-6789 or 123 45 6789), not inside a longer number.
_SSN_RE: Final = re.compile(r"(?<![0-9])[0-9]{3}([- ])[0-9]{2}\1[0-9]{4}(?![0-9])")
_SSN_MIN_LENGTH: Final = 11
_NON_DIGIT_RE: Final = re.compile(r"[^0-9]")
_GROUP_RE: Final = re.compile(r"[0-9]+")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_AUTHORITY_END_RE: Final = re.compile(r"[/?#]")
# Session ids carried as path parameters: /cart;jsessionid=0A1B2C…
_PATH_SESSION_RE: Final = re.compile(r";(jsessionid|phpsessid|sid|sessionid)=[^/;?#]*", re.IGNORECASE)
# Shorter than this and without '@', a value cannot hold an e-mail, card, JWT, UUID or token.
_MIN_SUSPECT_LENGTH: Final = 13

# Query/fragment parameter names whose value is a secret whatever it looks like.
_SECRET_NAMES: Final = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "pass",
        "passcode",
        "secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_token",
        "api_key",
        "apikey",
        "api-key",
        "key",
        "auth",
        "authorization",
        "session",
        "sessionid",
        "session_id",
        "sid",
        "code",
        "auth_code",
        "authcode",
        "otp",
        "pin",
        "jwt",
        "signature",
        "sig",
        "client_secret",
        "credential",
        "credentials",
        "reset_token",
        "ssn",
        "card",
        "card_number",
        "cardnumber",
        "credit_card",
        "creditcard",
        "cc",
        "cc_number",
        "ccnum",
        "cvv",
        "cvc",
        "cvv2",
        "ccv",
        "phpsessid",
        "jsessionid",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
    }
)
# Longer names ending like a secret ("new_password", "csrf_token", "stripe_secret", "private_key").
_SECRET_SUFFIX_RE: Final = re.compile(
    r"(?:password|passwd|_pass|_pwd|secret|token|_key|apikey|_sig|signature|sessionid|session_id|_ssn|_card|_cvv)$"
)


def luhn_ok(digits: str) -> bool:
    """Luhn checksum of a digit string (what card numbers satisfy and random runs rarely do)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if index % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _card(match: re.Match[str]) -> str:
    """Replace the card numbers in a run of digit groups: any consecutive groups holding 13–19 digits that start
    with 2–6 and pass Luhn, leftmost and longest first ("Chrome/1.0 4111 1111 1111 1111 …" keeps its 1.0)."""
    text = match.group(0)
    groups = [(m.start(), m.end()) for m in _GROUP_RE.finditer(text)]
    out: list[str] = []
    last = 0
    i = 0
    while i < len(groups):
        found = 0
        digits = 0
        for j in range(i, len(groups)):
            digits += groups[j][1] - groups[j][0]
            if digits > 19:
                break
            if digits >= 13 and _is_card(text[groups[i][0] : groups[j][1]]):
                found = j + 1
        if found:
            out.append(text[last : groups[i][0]])
            out.append(CARD_TOKEN)
            last = groups[found - 1][1]
            i = found
        else:
            i += 1
    if not out:
        return text
    out.append(text[last:])
    return "".join(out)


def _is_card(text: str) -> bool:
    """13–19 digits (separators ignored) that start with 2–6 and pass Luhn."""
    digits = _NON_DIGIT_RE.sub("", text)
    # Card numbers start with 2–6; this spares millisecond timestamps and phone-like ids.
    return 13 <= len(digits) <= 19 and digits[0] in "23456" and luhn_ok(digits)


def _looks_like_token(text: str) -> bool:
    """A long run that is a key/hash/base64 blob rather than a readable slug."""
    core = text.rstrip("=")
    if len(core) < 32:
        return False
    if _HEX_CHARS.issuperset(core):  # a hex digest or key, whatever its letters and digits
        return True
    # Hex digests and base64 keys have a long run mixing letters and digits; slugs
    # ("2024-05-my-long-article-title") are short words between hyphens.
    for run in _ALNUM_RUN_RE.findall(core):
        if not (run.isalpha() or run.isdigit()):
            return True
    return False


def _token(match: re.Match[str]) -> str:
    """Replace a token-looking run, keep anything that reads like words."""
    text = match.group(0)
    return SECRET_TOKEN if _looks_like_token(text) else text


def _redact_emails(value: str) -> str:
    """Replace every local@domain.tld (also URL-encoded as %40) with the e-mail placeholder."""
    out: list[str] = []
    last = 0
    for at in _AT_RE.finditer(value):
        at_start, at_end = at.span()
        if at_start < last:
            continue
        domain = _EMAIL_DOMAIN_RE.match(value, at_end)
        if domain is None:
            continue
        start = at_start
        floor = max(last, at_start - _MAX_LOCAL_PART)
        while start > floor and value[start - 1] in _EMAIL_LOCAL_CHARS:
            start -= 1
        if start == at_start:
            continue
        out.append(value[last:start])
        out.append(EMAIL_TOKEN)
        last = domain.end()
    if not out:
        return value
    out.append(value[last:])
    return "".join(out)


def _redact_common(value: str) -> str:
    """E-mails, JWTs, card numbers and SSNs; shared by URLs and free text."""
    if "@" in value or "%40" in value:
        value = _redact_emails(value)
    if "eyJ" in value:
        value = _JWT_RE.sub(SECRET_TOKEN, value)
    if "%20" in value:
        value = _CARD_RE.sub(_card, value.replace("%20", _SPACE_MARK)).replace(_SPACE_MARK, "%20")
    elif _DIGIT_CANDIDATE_RE.search(value) is not None:
        value = _CARD_RE.sub(_card, value)
    return _redact_ssn(value)


def _redact_ssn(value: str) -> str:
    """123-45-6789 (or with spaces) becomes the SSN placeholder."""
    if len(value) >= _SSN_MIN_LENGTH and ("-" in value or " " in value):
        return _SSN_RE.sub(SSN_TOKEN, value)
    return value


def _redact_part(value: str, uuids: bool) -> str:
    """Redact one path or parameter value: common PII, long tokens and (in values) UUIDs."""
    if len(value) < _MIN_SUSPECT_LENGTH and "@" not in value and "%40" not in value:
        return _redact_ssn(value)
    value = _redact_common(value)
    if uuids and "-" in value:
        value = _UUID_RE.sub(SECRET_TOKEN, value)
    if len(value) >= 32 and _LONG_RUN_RE.search(value) is not None:
        value = _TOKEN_RE.sub(_token, value)
    return value


@lru_cache(maxsize=1024)
def _is_secret_name(name: str) -> bool:
    """Whether a query parameter name says its value is a secret."""
    if "%" in name or "+" in name:
        name = unquote(name.replace("+", " "))
    name = name.strip().lower()
    return name in _SECRET_NAMES or _SECRET_SUFFIX_RE.search(name) is not None


def _redact_params(params: str) -> str:
    """Redact a query string or fragment pair by pair, keeping names and layout intact."""
    if "=" not in params:
        return _redact_part(params, uuids=True)
    out: list[str] = []
    for pair in params.split("&"):
        name, eq, value = pair.partition("=")
        if eq and value and _is_secret_name(name):
            out.append(f"{name}={PARAM_TOKEN}")
        elif eq:
            out.append(f"{_redact_part(name, uuids=False)}={_redact_part(value, uuids=True)}")
        else:
            out.append(_redact_part(pair, uuids=True))
    return "&".join(out)


def _needs_redaction(url: str) -> bool:
    """Cheap pre-check: False means the URL cannot contain anything redact_url would replace."""
    if "@" in url or "=" in url or "%40" in url or "eyJ" in url or "%20" in url:
        return True
    if len(url) < _SSN_MIN_LENGTH:
        return False
    return (
        _DIGIT_CANDIDATE_RE.search(url) is not None
        or _LONG_RUN_RE.search(url) is not None
        or _SSN_RE.search(url) is not None
    )


def _storable(value: str) -> str:
    """Lone surrogates (undecodable bytes kept by surrogateescape) become U+FFFD so UTF-8 storage works."""
    if value.isascii():
        return value
    return _SURROGATE_RE.sub("\ufffd", value)


def _redact_url(url: str) -> str:
    """Uncached redact_url."""
    url = _storable(url)
    if not _needs_redaction(url):
        return url
    prefix = ""
    rest = url
    scheme_end = url.find("://")
    if 0 < scheme_end <= 32 or url.startswith("//"):
        start = scheme_end + 3 if scheme_end > 0 else 2
        found = _AUTHORITY_END_RE.search(url, start)
        end = found.start() if found else len(url)
        authority = url[start:end]
        if "@" in authority:
            # user:password@host — credentials never reach storage.
            authority = authority.rpartition("@")[2]
        prefix = url[:start] + authority
        rest = url[end:]
    path, hash_, fragment = rest.partition("#")
    path, qmark, query = path.partition("?")
    if ";" in path and "=" in path:
        path = _PATH_SESSION_RE.sub(rf";\1={PARAM_TOKEN}", path)
    out = prefix + _redact_part(path, uuids=False)
    if qmark:
        out += "?" + _redact_params(query)
    if hash_:
        out += "#" + _redact_params(fragment)
    return out


_redact_url_cached = lru_cache(maxsize=4096)(_redact_url)


def redact_url(url: str) -> str:
    """URL with e-mails, tokens, card numbers, credentials and secret parameters replaced by placeholders.

    Results are cached (pages repeat); the cache lives in process memory only, like raw IPs do.
    """
    if len(url) > _MAX_CACHED_URL:
        return _redact_url(url)
    return _redact_url_cached(url)


def redact_text(value: str) -> str:
    """Free text (titles, property values, event names, user ids) with e-mails, card numbers, SSNs, JWTs and
    long hex or base64 secrets replaced."""
    value = _storable(value)
    if len(value) < _SSN_MIN_LENGTH and "@" not in value and "%40" not in value:
        return value  # too short for any shape (most values)
    value = _redact_common(value)
    if len(value) >= 32 and _TEXT_TOKEN_RE.search(value) is not None:
        value = _TEXT_TOKEN_RE.sub(_token, value)
    return value


redact_title = lru_cache(maxsize=4096)(redact_text)
"""`redact_text` for page titles, cached: a site's pages send the same few titles over and over (≤ 300 chars)."""


def redact_props(props: dict[str, str]) -> dict[str, str]:
    """Event properties: values of secret-named keys (password, token, ssn, card …) replaced whatever they look
    like, every other value redacted by shape; keys are kept (minus any PII in them)."""
    return {
        redact_text(k): PARAM_TOKEN if _is_secret_name(k) else redact_text(v) for k, v in props.items()
    }


def redact_props_json(props: str) -> str:
    """`redact_props` on a stored props JSON object ('' stays ''; anything else is redacted as text)."""
    if not props:
        return props
    try:
        obj = orjson.loads(props)
    except orjson.JSONDecodeError:
        return redact_text(props)
    if not isinstance(obj, dict):
        return redact_text(props)
    return orjson.dumps(redact_props({str(k): v if isinstance(v, str) else str(v) for k, v in obj.items()})).decode()


@lru_cache(maxsize=4096)
def _split_cached(url: str) -> tuple[str, str, str]:
    """Cached split_url for ordinary-length URLs."""
    return _split(url)


def split_url(url: str) -> tuple[str, str, str]:
    """(host, path, query) of a URL after redaction; host lower-case without port, path at least "/".

    The fragment is dropped; relative URLs ("/pricing?x=1") give host "".
    """
    if len(url) > _MAX_CACHED_URL:
        return _split(url)
    return _split_cached(url)


def split_redacted(url: str) -> tuple[str, str, str]:
    """`split_url(redact_url(url))` behind one cache lookup instead of two: done for every page view."""
    if len(url) > _MAX_CACHED_URL:
        return _split(_redact_url(url))
    return _split_redacted_cached(url)


@lru_cache(maxsize=4096)
def _split_redacted_cached(url: str) -> tuple[str, str, str]:
    """Cached split_redacted for ordinary-length URLs."""
    return _split(_redact_url(url))


def _split(url: str) -> tuple[str, str, str]:
    """Uncached split_url."""
    url = _redact_url(url)
    host = ""
    scheme_end = url.find("://")
    if 0 < scheme_end <= 32 or url.startswith("//"):
        start = scheme_end + 3 if scheme_end > 0 else 2
        found = _AUTHORITY_END_RE.search(url, start)
        end = found.start() if found else len(url)
        host = url[start:end].lower()
        if host.startswith("["):
            host = host[: host.find("]") + 1]
        else:
            host = host.partition(":")[0]
        url = url[end:]
    path, _, _fragment = url.partition("#")
    path, _, query = path.partition("?")
    return host, path or "/", query
