"""The "no data yet" hint: what to do next when the store holds no traffic at all."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from sitelens_tui.sanitize import clean


def hint_text(site: str | None) -> Text:
    """One short paragraph naming the three next steps; `site` (from the config) is shown as plain text."""
    name = clean(site, 60) if site else "SITE"
    return Text.assemble(
        ("No data yet. ", "bold"), "Add the tag from ", (f"sitelens snippet --site {name}", "bold"),
        " to your pages, try ", ("sitelens demo", "bold"), " for sample traffic, or run ", ("sitelens check", "bold"),
        " if nothing arrives.",
    )


class EmptyHint(Static):
    """Shown at the top of a view while the database holds no events."""

    DEFAULT_CSS = """
    EmptyHint { height: auto; margin: 1 0 0 0; padding: 0 1; background: $boost; border-left: outer $warning; }
    """

    def __init__(self, site: str | None) -> None:
        super().__init__(hint_text(site))
