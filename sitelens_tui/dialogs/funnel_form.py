"""Create or edit a funnel: a name, an optional site, a window and one step per line."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, TextArea

from db.funnels import Funnel, FunnelError, Step, make_funnel
from sitelens_tui.sanitize import clean

HELP = "one step per line: /pricing or /blog/* for a page, `event signup plan=pro` for a custom event"


def parse_step(line: str) -> dict[str, Any]:
    """'/pricing' → a page step; 'event signup plan=pro' → an event step with a property filter."""
    words = line.split()
    if words and words[0] in ("page", "path") and len(words) >= 2:
        return {"path": words[1]}
    if words and words[0] == "event" and len(words) >= 2:
        props = dict(w.split("=", 1) for w in words[2:] if "=" in w)
        return {"event": words[1], "props": props}
    if words and words[0].startswith("/"):
        return {"path": words[0]}
    raise FunnelError(f"step {line[:40]!r}: {HELP}")


def step_line(step: Step) -> str:
    """The form's spelling of a step (inverse of parse_step)."""
    if step.kind == "path":
        return step.match
    return " ".join(["event", step.match, *(f"{k}={v}" for k, v in step.props)])


def parse_funnel(name: str, site: str, window_min: str, steps_text: str) -> Funnel:
    """A validated funnel from the form's fields (FunnelError with a message otherwise)."""
    try:
        window_s = int(float(window_min or "30") * 60)
    except ValueError:
        raise FunnelError("the window is a number of minutes") from None
    steps = [parse_step(line) for line in steps_text.splitlines() if line.strip()]
    return make_funnel(name, steps, window_s, site.strip())


class FunnelForm(ModalScreen[Funnel | None]):
    """Returns the validated funnel (the app saves it) or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel"), Binding("ctrl+s", "save", "Save")]

    def __init__(self, funnel: Funnel | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.funnel = funnel

    def compose(self) -> ComposeResult:
        f = self.funnel
        with Vertical(classes="dialog funnel-form"):
            yield Label(Text("Edit funnel" if f else "New funnel", style="bold"), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Label("Name", classes="field-label")
                yield Input(f.name if f else "", id="funnel-name")
            with Horizontal(classes="row"):
                yield Label("Site", classes="field-label")
                yield Input(f.site if f else "", placeholder="all sites", id="funnel-site")
            with Horizontal(classes="row"):
                yield Label("Window", classes="field-label")
                yield Input(str(f.window_s // 60) if f else "30", placeholder="minutes", id="funnel-window")
            yield Label(Text(HELP, style="dim"))
            yield TextArea("\n".join(step_line(s) for s in f.steps) if f else "", id="funnel-steps")
            yield Label("", id="funnel-error")
            with Horizontal(classes="buttons"):
                yield Button("Save", variant="primary", id="funnel-save")
                yield Button("Cancel", id="funnel-cancel")

    def on_mount(self) -> None:
        self.query_one("#funnel-name", Input).focus()

    def action_save(self) -> None:
        try:
            funnel = parse_funnel(
                self.query_one("#funnel-name", Input).value,
                self.query_one("#funnel-site", Input).value,
                self.query_one("#funnel-window", Input).value,
                self.query_one("#funnel-steps", TextArea).text,
            )
        except FunnelError as exc:
            self.query_one("#funnel-error", Label).update(Text(clean(str(exc), 200), style="bold red"))
            return
        self.dismiss(funnel)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "funnel-save":
            self.action_save()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
