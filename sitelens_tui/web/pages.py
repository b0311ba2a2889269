"""The two HTML pages `sitelens web` writes itself: the login form and the dashboard shell around the terminal."""

from __future__ import annotations

from html import escape

STYLE = """
body { margin: 0; background: #0c181f; color: #e8eef2; font: 15px/1.4 system-ui, sans-serif; }
form.login { width: 20em; margin: 12vh auto; padding: 2em; background: #12232d; border-radius: 6px; }
form.login h1 { margin: 0 0 1em; font-size: 1.3em; }
form.login label { display: block; margin: .8em 0 .2em; }
form.login input { width: 100%; box-sizing: border-box; padding: .5em; font-size: 1em; }
form.login button { margin-top: 1.4em; padding: .6em 1.4em; font-size: 1em; }
p.error { color: #ff8a80; }
"""


def login_page(csrf: str, error: str = "", user: str = "") -> str:
    """The sign-in form; `csrf` is echoed from the login cookie so a foreign page cannot post it."""
    problem = f'<p class="error" id="error">{escape(error)}</p>' if error else ""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>SiteLens · sign in</title>
<meta name="viewport" content="width=device-width, initial-scale=1"><style>{STYLE}</style></head>
<body><form class="login" method="post" action="login">
<h1>SiteLens</h1>{problem}
<input type="hidden" name="csrf" value="{escape(csrf)}">
<label for="user">Name</label><input id="user" name="user" autocomplete="username" value="{escape(user)}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password">
<button id="sign-in" type="submit">Sign in</button>
</form></body></html>"""


def message_page(title: str, text: str) -> str:
    """A page with one sentence (too many tabs open, signed out…) and a way back."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>SiteLens · {escape(title)}</title><style>{STYLE}</style></head>
<body><form class="login" method="get" action="./"><h1>{escape(title)}</h1><p id="message">{escape(text)}</p>
<button type="submit">Back to the dashboard</button></form></body></html>"""


def dashboard_page(static_url: str, websocket_url: str, user: str, role: str, csrf: str) -> str:
    """The terminal that textual-serve's script connects to the websocket, under a bar with the user and Sign out."""
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>SiteLens</title>
<link rel="stylesheet" href="{escape(static_url)}css/xterm.css">
<script src="{escape(static_url)}js/textual.js"></script>
<style>
html, body {{ margin: 0; height: 100%; background: #0c181f; overflow: hidden; }}
body {{ display: flex; flex-direction: column; font: 13px system-ui, sans-serif; color: #cfd8dc; }}
#bar {{ display: flex; gap: 1em; align-items: center; justify-content: flex-end; padding: 2px 8px; }}
#bar button {{ font-size: 12px; }}
#terminal {{ flex: 1; min-height: 0; }}
#closed {{ display: none; padding: 2em; text-align: center; }}
body.-closed #closed {{ display: block; }}
body.-closed #terminal {{ display: none; }}
</style></head>
<body>
<div id="bar"><span id="who">{escape(user)} ({escape(role)})</span>
<form method="post" action="logout"><input type="hidden" name="csrf" value="{escape(csrf)}">
<button id="sign-out" type="submit">Sign out</button></form></div>
<div id="closed">The dashboard session ended. <a href="./">Open it again</a></div>
<div id="terminal" class="textual-terminal" data-session-websocket-url="{escape(websocket_url)}"
 data-font-size="14"></div>
</body></html>"""
