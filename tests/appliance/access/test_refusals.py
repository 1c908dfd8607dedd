"""Login refusals (pure): what is recorded, what is shown, and that the untold read the same."""

from __future__ import annotations

import pytest

from appliance.access.refusals import UNTOLD_MESSAGE, LoginRefusal, Refusal

# Pinned on purpose: telling a new reason must be a visible change to this test. None is told
# since issue 13 (one uniform refusal).
TOLD: set[LoginRefusal] = set()


@pytest.mark.parametrize("reason", list(LoginRefusal))
def test_what_the_user_may_know(reason: LoginRefusal) -> None:
    assert reason.user_may_know is (reason in TOLD)
    refusal = Refusal(reason, locked_s=30)
    assert refusal.shown == (refusal.message if reason in TOLD else UNTOLD_MESSAGE)


def test_untold_reasons_all_read_the_same_and_are_recorded_as_they_are() -> None:
    untold = [Refusal(r) for r in LoginRefusal if not r.user_may_know]
    assert {r.shown for r in untold} == {"invalid username, password or TOTP code"}
    assert [r.message for r in untold] == [
        "unknown username",
        "account disabled",
        "account locked for 0 s after repeated failures",
        "wrong password",
        "agency accounts sign in with their API token",
        "TOTP code required",
        "wrong TOTP code",
    ]


def test_a_lock_says_how_long_in_the_ledger_only() -> None:
    refusal = Refusal(LoginRefusal.account_locked, locked_s=60)
    assert refusal.message == "account locked for 60 s after repeated failures"
    assert refusal.shown == "invalid username, password or TOTP code"
