"""A customer's own login may call user-level functions first thing; an admin's unscoped call is refused."""

from __future__ import annotations

import pytest

from cloudkit.errors import ScopeError


@pytest.mark.quirk("billing.su-scope")
def test_a_customers_first_call_logs_in_and_learns_the_level(make_billing, billing_calls):
    alice = make_billing(username="alice", password="alice-pass")
    assert alice.get_balance() > 0
    assert billing_calls.funcs() == ["auth", "subaccount"]  # one login, then the balance


@pytest.mark.quirk("billing.su-scope")
def test_an_admins_unscoped_user_call_is_still_refused_after_the_login(make_billing, billing_calls):
    admin = make_billing()  # the fake's admin, level unknown until the login reply
    with pytest.raises(ScopeError, match="as_user"):
        admin.get_balance()
    assert billing_calls.funcs() == ["auth"]  # the login only: the user-level call never went out


@pytest.mark.quirk("billing.su-scope")
def test_in_authinfo_mode_nothing_is_sent_for_an_unscoped_user_call(make_billing, billing_calls):
    admin = make_billing(auth_mode="authinfo")  # no login reply to learn the level from
    with pytest.raises(ScopeError, match="as_user"):
        admin.get_balance()
    assert billing_calls.funcs() == []
