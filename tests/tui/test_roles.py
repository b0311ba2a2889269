"""Roles in the TUI: a viewer (a read-only dashboard sign-in) is refused changes with a message; an admin is not."""

from __future__ import annotations

from sitelens_tui.dialogs.funnel_form import FunnelForm
from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog
from tests.tui.conftest import open_view, settle


def notices(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


async def test_viewer_cannot_override_throttling_or_edit_funnels(attach_app) -> None:
    app = attach_app(role="viewer")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert not isinstance(app.screen, ThrottleDialog)
        assert "throttle overrides need the admin role (you are signed in as viewer)" in notices(app)
        await open_view(pilot, "funnels")
        for key in ("n", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert not isinstance(app.screen, FunnelForm)
        assert notices(app).count("funnel edits need the admin role (you are signed in as viewer)") == 2


async def test_admin_gets_the_throttle_dialog_and_funnel_form(attach_app) -> None:
    app = attach_app(role="admin")
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ThrottleDialog)
        await pilot.press("escape")
        await open_view(pilot, "funnels")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, FunnelForm)
        assert not [n for n in notices(app) if "admin role" in n]
