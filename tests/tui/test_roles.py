"""Roles in the TUI: a viewer (a read-only dashboard sign-in) is refused changes with a message; an admin is not."""

from __future__ import annotations

import pytest

from sitelens_tui.dialogs.funnel_form import FunnelForm
from sitelens_tui.dialogs.throttle_dialog import ThrottleDialog
from tests.tui.conftest import open_view, settle

THROTTLE_REFUSED = "throttle overrides need the admin role (you are signed in as viewer)"
FUNNEL_REFUSED = "funnel edits need the admin role (you are signed in as viewer)"


def notices(app: object) -> list[str]:
    return [str(n.message) for n in app._notifications]  # type: ignore[attr-defined]


@pytest.mark.parametrize("role", ["viewer", "admin"])
async def test_only_admins_override_throttling_or_edit_funnels(attach_app, role: str) -> None:
    admin = role == "admin"
    app = attach_app(role=role)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(app.screen, ThrottleDialog) == admin
        await pilot.press("escape")
        await open_view(pilot, "funnels")
        for key in ("n", "m"):
            await pilot.press(key)
            await pilot.pause()
            assert isinstance(app.screen, FunnelForm) == admin
            await pilot.press("escape")
        expected = [] if admin else [THROTTLE_REFUSED, FUNNEL_REFUSED, FUNNEL_REFUSED]
        assert [n for n in notices(app) if "admin role" in n] == expected
