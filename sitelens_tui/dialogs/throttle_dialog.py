"""The `t` dialog: a manual throttle level for a fingerprint, IP or network, with a duration and a reason."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Select

KINDS = (("Fingerprint", "fingerprint"), ("IP address", "ip"), ("Network (CIDR)", "cidr"))
LEVELS = (("Blocked (0×)", "blocked"), ("Severe (0.25×)", "severe"), ("Warning (0.5×)", "warning"),
          ("Normal (1×, allow)", "normal"))
DURATIONS: tuple[tuple[str, int | None], ...] = (
    ("15 minutes", 900), ("1 hour", 3600), ("24 hours", 86400), ("7 days", 7 * 86400), ("until cleared", None)
)


@dataclass(slots=True, frozen=True)
class ThrottleRequest:
    """An override to store; `duration_s` None means until cleared."""

    kind: str
    target: str
    level: str
    duration_s: int | None
    reason: str


class ThrottleDialog(ModalScreen[ThrottleRequest | None]):
    """Prefilled from the selected session, fingerprint or IP; returns the request or None."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def __init__(self, target: tuple[str, str] | None) -> None:
        super().__init__(classes="dialog-screen")
        self.kind, self.target = target or ("fingerprint", "")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog throttle"):
            yield Label(Text("Throttle override", style="bold"), classes="dialog-title")
            with Horizontal(classes="row"):
                yield Label("Kind", classes="field-label")
                yield Select(KINDS, value=self.kind, allow_blank=False, id="throttle-kind")
            with Horizontal(classes="row"):
                yield Label("Target", classes="field-label")
                yield Input(self.target, placeholder="fingerprint, IP or CIDR", id="throttle-target")
            with Horizontal(classes="row"):
                yield Label("Level", classes="field-label")
                yield Select(LEVELS, value="blocked", allow_blank=False, id="throttle-level")
            with Horizontal(classes="row"):
                yield Label("Duration", classes="field-label")
                yield Select([(label, i) for i, (label, _) in enumerate(DURATIONS)], value=1, allow_blank=False,
                             id="throttle-duration")
            with Horizontal(classes="row"):
                yield Label("Reason", classes="field-label")
                yield Input(placeholder="why (kept with the override)", id="throttle-reason")
            yield Label("", id="throttle-error")
            with Horizontal(classes="buttons"):
                yield Button("Apply", variant="error", id="throttle-ok")
                yield Button("Cancel", id="throttle-cancel")

    def on_mount(self) -> None:
        self.query_one("#throttle-reason" if self.target else "#throttle-target", Input).focus()

    def _submit(self) -> None:
        target = self.query_one("#throttle-target", Input).value.strip()
        if not target:
            self.query_one("#throttle-error", Label).update(Text("a target is required", style="red"))
            return
        duration = DURATIONS[int(self.query_one("#throttle-duration", Select).value)][1]  # type: ignore[arg-type]
        self.dismiss(
            ThrottleRequest(
                kind=str(self.query_one("#throttle-kind", Select).value),
                target=target,
                level=str(self.query_one("#throttle-level", Select).value),
                duration_s=duration,
                reason=self.query_one("#throttle-reason", Input).value.strip() or "set from the TUI",
            )
        )

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._submit()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "throttle-ok":
            self._submit()
        else:
            self.dismiss(None)

    def action_cancel(self) -> None:
        self.dismiss(None)
