"""Stop rules: decide() rule by rule, then the properties the issue asks for, with hypothesis.

The properties: more money never leads to a harsher decision; nothing resumes a suspension the policy did
not make; a second sweep after the first was carried out decides nothing new; an account whose credit
stays inside the resume margin does not flap; a later sweep is never milder; a bad policy is a ConfigError
naming the field.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from cloudkit.errors import ConfigError, InvalidArgumentError
from cloudkit.lifecycle import (
    AccountState,
    Action,
    Notice,
    PromisedPayment,
    StopPolicy,
    SuspendReason,
    Suspension,
    apply,
    decide,
)
from cloudkit.lifecycle._stoprules import CODES

NOW = dt.datetime(2025, 6, 10, 12, 0, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)
D = Decimal


def state(balance: str | int = 0, **kwargs: object) -> AccountState:
    return AccountState(account=7, balance=D(balance), **kwargs)  # type: ignore[arg-type]


def ours(at: dt.datetime = NOW - 10 * H, **kwargs: object) -> Suspension:
    return Suspension(at=at, reason=SuspendReason.NONPAYMENT, policy="default", **kwargs)  # type: ignore[arg-type]


POLICY = StopPolicy(
    default_credit_limit=50, grace_hours=24, grace_amount=100, resume_margin=20, notice_hours=(72, 24)
)


# ============================================================================ examples, rule by rule
def test_credit_ok_without_spend():
    d = decide(state(10), POLICY, NOW)
    assert (d.action, d.code, d.credit, d.hours_left, d.notice_level) == (
        Action.OK,
        "credit_ok",
        60,
        None,
        None,
    )
    assert d.severity == 0
    assert d.reason == "credit 60.00, nothing spent"


def test_credit_ok_above_every_level():
    d = decide(state(100, hourly_spend=D(1)), POLICY, NOW)
    assert (d.action, d.code, d.hours_left) == (Action.OK, "credit_ok", D("150.00"))


def test_low_credit_notifies_the_most_urgent_level_reached_and_only_once():
    # 60 of credit at 2/h: 30h left, within 72h but not 24h.
    s = state(10, hourly_spend=D(2))
    d = decide(s, POLICY, NOW)
    assert (d.action, d.code, d.notice_level, d.hours_left) == (Action.NOTIFY, "low_credit", 72, D(30))
    assert d.notice() == Notice(account=7, level=72, hours_left=D(30), credit=D(60), reason=d.reason)
    again = decide(apply(s, d, POLICY, NOW), POLICY, NOW)
    assert (again.action, again.code, again.notice_level) == (Action.OK, "low_credit", None)
    assert "72h already sent" in again.reason


def test_a_jump_past_two_levels_sends_only_the_most_urgent():
    d = decide(state(-30, hourly_spend=D(2)), POLICY, NOW)  # 20 of credit: 10h left
    assert (d.action, d.notice_level) == (Action.NOTIFY, 24)


def test_after_72_the_24h_notice_still_goes_out():
    d = decide(state(-30, hourly_spend=D(2), notified_level=72), POLICY, NOW)
    assert (d.action, d.notice_level, d.notified_level) == (Action.NOTIFY, 24, 24)


def test_a_level_is_rearmed_once_the_credit_is_back_above_it_and_the_margin():
    # The 24h notice was sent; the customer paid: 100h left. Nothing is due and the levels are cleared.
    d = decide(state(150, hourly_spend=D(2), notified_level=24), POLICY, NOW)
    assert (d.action, d.code, d.notified_level) == (Action.OK, "credit_ok", None)
    # Paid back to 30h left only: within 72h (sent before, not sent again), the 24h level re-armed.
    d = decide(state(10, hourly_spend=D(2), notified_level=24), POLICY, NOW)
    assert (d.action, d.code, d.notice_level, d.notified_level) == (Action.OK, "low_credit", None, 72)


def test_inside_the_margin_nothing_is_rearmed():
    # 10 of credit (< margin 20) at 1/h: 10h left; the limit notice (0) stays the most urgent sent.
    d = decide(state(-40, hourly_spend=D(1), notified_level=0), POLICY, NOW)
    assert (d.action, d.code, d.notified_level) == (Action.OK, "low_credit", 0)


def test_limit_reached_starts_the_dip_and_sends_level_0():
    d = decide(state(-55), POLICY, NOW)
    assert (d.action, d.code, d.notice_level, d.below_limit_since) == (Action.NOTIFY, "limit_reached", 0, NOW)
    assert (d.credit, d.severity) == (D(-5), 2)
    assert d.reason == "credit -5.00 below the limit 50.00 for 0h (grace 24h)"


def test_in_grace_after_the_limit_notice():
    since = NOW - 10 * H
    d = decide(state(-55, below_limit_since=since, notified_level=0), POLICY, NOW)
    assert (d.action, d.code, d.below_limit_since, d.notice_level) == (Action.OK, "in_grace", since, None)
    assert d.reason == "credit -5.00 below the limit 50.00 for 10h (grace 24h)"


def test_no_limit_notice_when_turned_off():
    d = decide(state(-55), attrs.evolve(POLICY, notice_at_limit=False), NOW)
    assert (d.action, d.code, d.notice_level) == (Action.OK, "in_grace", None)


def test_grace_hours_over_suspends():
    d = decide(state(-62, below_limit_since=NOW - 26 * H, notified_level=0), POLICY, NOW)
    assert (d.action, d.code, d.severity) == (Action.SUSPEND, "grace_hours_over", 3)
    assert d.reason == "credit -12.00 below the limit 50.00 for 26h (grace 24h)"
    after = apply(state(-62), d, POLICY, NOW)
    assert after.suspension == Suspension(at=NOW, reason=SuspendReason.NONPAYMENT, policy="default")


def test_grace_amount_over_suspends_at_once():
    d = decide(state(-150), POLICY, NOW)
    assert (d.action, d.code, d.credit) == (Action.SUSPEND, "grace_amount_over", D(-100))
    # The limit notice was never sent: it goes out with the suspension.
    assert d.notice_level == 0
    assert d.reason == "credit -100.00 below the limit 50.00 by 100.00 (grace amount 100.00)"


def test_zero_grace_suspends_at_the_first_sweep_below_the_limit():
    d = decide(state("-0.01"), StopPolicy(), NOW)
    assert (d.action, d.code) == (Action.SUSPEND, "grace_hours_over")


def test_still_short_stays_suspended():
    d = decide(state(-40, suspension=ours()), POLICY, NOW)  # credit 10 < margin 20
    assert (d.action, d.code, d.severity) == (Action.OK, "still_short", 3)


def test_paid_resumes_at_limit_plus_margin_exactly():
    s = state(-30, suspension=ours(), notified_level=0, below_limit_since=NOW - 30 * H)
    d = decide(s, POLICY, NOW)
    assert (d.action, d.code, d.credit, d.severity) == (Action.RESUME, "paid", D(20), 0)
    after = apply(s, d, POLICY, NOW)
    assert (after.suspension, after.below_limit_since, after.notified_level) == (None, None, None)


def test_paid_but_short_by_a_cent_stays():
    d = decide(state("-30.01", suspension=ours()), POLICY, NOW)
    assert (d.action, d.code) == (Action.OK, "still_short")


def test_resume_carries_the_low_credit_notice_when_none_was_sent():
    d = decide(state(-30, suspension=ours(), hourly_spend=D(1)), POLICY, NOW)  # 20h left
    assert (d.action, d.notice_level, d.notified_level) == (Action.RESUME, 24, 24)


def test_resume_after_the_limit_notice_rearms_the_limit_but_not_the_level_it_is_within():
    d = decide(state(-30, suspension=ours(), notified_level=0, hourly_spend=D(1)), POLICY, NOW)
    assert (d.action, d.notice_level, d.notified_level) == (Action.RESUME, None, 24)


def test_auto_resume_off_leaves_it_to_staff():
    d = decide(state(0, suspension=ours()), attrs.evolve(POLICY, auto_resume=False), NOW)
    assert (d.action, d.code, d.severity) == (Action.OK, "auto_resume_off", 3)


@pytest.mark.parametrize(
    "suspension",
    [
        Suspension(at=NOW, reason=SuspendReason.ABUSE, policy="default"),
        Suspension(at=NOW, reason=SuspendReason.STAFF, policy=None),
        Suspension(at=NOW, reason=SuspendReason.NONPAYMENT, policy=None),
        Suspension(at=NOW, reason=SuspendReason.NONPAYMENT, policy="other"),
    ],
    ids=["abuse", "staff", "nonpayment-by-staff", "other-policy"],
)
def test_not_our_suspension_is_never_resumed_nor_deleted(suspension):
    policy = attrs.evolve(POLICY, delete_after_days=1)
    for balance in ("1000", "-1000"):
        d = decide(state(balance, suspension=suspension), policy, NOW + dt.timedelta(days=400))
        assert (d.action, d.code) == (Action.OK, "not_our_suspension")


def test_delete_due_after_the_days_then_deleted():
    policy = attrs.evolve(POLICY, delete_after_days=30)
    s = state(-100, suspension=ours(at=NOW - dt.timedelta(days=30)))
    assert decide(s, policy, NOW - dt.timedelta(seconds=1)).code == "still_short"
    d = decide(s, policy, NOW)
    assert (d.action, d.code, d.severity) == (Action.DELETE_DUE, "delete_due", 4)
    after = apply(s, d, policy, NOW)
    assert after.suspension is not None
    assert after.suspension.deleted_at == NOW
    d2 = decide(after, policy, NOW + H)
    assert (d2.action, d2.code, d2.severity) == (Action.OK, "deleted", 4)
    # Paid after the deletion: the account is in good standing again (the sweep has nothing left to resume).
    assert decide(attrs.evolve(after, balance=D(0)), policy, NOW).action is Action.RESUME


def test_delete_is_off_by_default():
    d = decide(state(-1000, suspension=ours(at=NOW - dt.timedelta(days=3650))), POLICY, NOW)
    assert d.code == "still_short"


def test_promises_count_until_their_date_then_are_taken_back():
    promise = PromisedPayment(amount=D(40), until=NOW.date())
    s = state(-20, promised=(promise,))  # billing credited the 40: without it the balance is -60
    d = decide(s, POLICY, NOW)
    assert (d.code, d.credit, d.promised_counted, d.promised_expired) == ("credit_ok", 30, 40, 0)
    later = decide(s, POLICY, NOW + dt.timedelta(days=1))
    assert (later.code, later.credit, later.promised_counted, later.promised_expired) == (
        "limit_reached",
        -10,
        0,
        40,
    )
    assert later.reason.endswith("(promised 40.00 past its date, not counted)")


def test_billing_limit_wins_unless_the_policy_says_otherwise():
    s = state(-60, credit_limit=D(80))
    assert decide(s, POLICY, NOW).credit == 20
    assert decide(s, attrs.evolve(POLICY, use_billing_credit_limit=False), NOW).credit == -10


def test_every_code_has_a_severity():
    assert set(CODES) == {
        "credit_ok", "paid", "low_credit", "limit_reached", "in_grace", "grace_hours_over",
        "grace_amount_over", "still_short", "auto_resume_off", "not_our_suspension", "delete_due", "deleted",
    }  # fmt: skip


def test_naive_now_is_refused():
    with pytest.raises(InvalidArgumentError, match="aware"):
        decide(state(0), POLICY, dt.datetime(2025, 1, 1))  # noqa: DTZ001


def test_apply_refuses_another_accounts_decision():
    d = decide(state(0), POLICY, NOW)
    with pytest.raises(InvalidArgumentError):
        apply(attrs.evolve(state(0), account=8), d, POLICY, NOW)


def test_negative_spend_is_refused():
    with pytest.raises(InvalidArgumentError, match="hourly_spend"):
        state(0, hourly_spend=D(-1))


def test_from_mapping_reads_a_toml_table_and_refuses_unknown_keys():
    policy = StopPolicy.from_mapping(
        {"name": "prod", "default_credit_limit": "50.10", "grace_amount": 100, "notice_hours": [24, 72, 1]}
    )
    assert policy == StopPolicy(
        name="prod", default_credit_limit=D("50.10"), grace_amount=D(100), notice_hours=(72, 24, 1)
    )
    assert StopPolicy.from_mapping({}) == StopPolicy()
    assert StopPolicy.from_mapping({"resume_margin": 2.5}).resume_margin == D("2.5")
    with pytest.raises(ConfigError, match=r"StopPolicy\.grace_days is not a policy field"):
        StopPolicy.from_mapping({"grace_days": 1})


# ====================================================================================== strategies
money = st.decimals(min_value=-300, max_value=300, places=2)
amount = st.decimals(min_value=0, max_value=200, places=2)
offsets = st.integers(min_value=-300 * 3600, max_value=300 * 3600).map(lambda s: dt.timedelta(seconds=s))
names = st.sampled_from(["default", "other"])

policies = st.builds(
    StopPolicy,
    name=names,
    default_credit_limit=amount,
    use_billing_credit_limit=st.booleans(),
    grace_hours=st.sampled_from([0, 0.5, 1, 24, 48, 200]),
    grace_amount=st.none() | amount,
    resume_margin=st.sampled_from([D(0), D("0.01"), D(5), D(20), D(100)]),
    notice_hours=st.lists(st.integers(1, 200), unique=True, max_size=4).map(tuple),
    notice_at_limit=st.booleans(),
    auto_resume=st.booleans(),
    delete_after_days=st.none() | st.integers(1, 20),
)


@st.composite
def suspensions(draw: st.DrawFn, *, nonpayment: bool = False) -> Suspension:
    at = NOW + draw(offsets) * 10
    deleted = draw(st.none() | st.just(at + dt.timedelta(days=draw(st.integers(1, 30)))))
    reasons = [SuspendReason.NONPAYMENT] if nonpayment else list(SuspendReason)
    return Suspension(
        at=at,
        reason=draw(st.sampled_from(reasons)),
        policy=draw(names if nonpayment else st.none() | names),
        deleted_at=deleted,
    )


# Active accounts, suspensions for nonpayment by a policy (this one half the time) and anything else, in
# equal parts: drawn uniformly, staff suspensions (which decide nothing) would fill most examples.
any_suspension = st.one_of(st.none(), suspensions(nonpayment=True), suspensions())


@st.composite
def states(
    draw: st.DrawFn, *, suspension: st.SearchStrategy[Suspension | None] | None = None
) -> AccountState:
    promised = draw(
        st.lists(
            st.builds(
                PromisedPayment,
                amount=amount,
                until=st.integers(-5, 5).map(lambda d: NOW.date() + dt.timedelta(days=d)),
            ),
            max_size=3,
        )
    )
    return AccountState(
        account=draw(st.integers(1, 10**6)),
        balance=draw(money),
        credit_limit=draw(st.none() | amount),
        promised=tuple(promised),
        hourly_spend=draw(st.decimals(min_value=0, max_value=20, places=2)),
        below_limit_since=draw(st.none() | offsets.map(lambda o: NOW + o)),
        notified_level=draw(st.none() | st.sampled_from([0, 1, 24, 72, 100, 200])),
        suspension=draw(suspension if suspension is not None else any_suspension),
    )


nows = offsets.map(lambda o: NOW + o)


# ====================================================================================== properties
@given(states(), policies, nows, st.tuples(amount, amount, st.decimals(min_value=0, max_value=20, places=2)))
def test_more_money_never_leads_to_a_harsher_decision(s, policy, now, extra):
    more, more_limit, less_spend = extra
    poorer = decide(s, policy, now)
    richer_state = attrs.evolve(
        s,
        balance=s.balance + more,
        credit_limit=None if s.credit_limit is None else s.credit_limit + more_limit,
        hourly_spend=max(s.hourly_spend - less_spend, D(0)),
        # A promise moved past today counts again: more money, as a payment would be.
        promised=tuple(attrs.evolve(p, until=max(p.until, now.date())) for p in s.promised[:1])
        + s.promised[1:],
    )
    richer = decide(richer_state, policy, now)
    assert richer.credit >= poorer.credit
    assert richer.severity <= poorer.severity, (poorer, richer)


@given(states(), policies, nows, st.lists(st.decimals(min_value=0, max_value=60, places=2), max_size=20))
def test_severity_never_rises_along_a_ladder_of_balances(s, policy, now, steps):
    # Many pairs per example: the balance climbs from far below the limit to well above it.
    balance = -policy.limit_for(s) - 300
    severities = []
    for step in [D(0), *steps, D(600)]:
        balance += step
        severities.append(decide(attrs.evolve(s, balance=balance), policy, now).severity)
    assert severities == sorted(severities, reverse=True), severities


@given(states(), policies, nows, st.integers(0, 400 * 3600))
def test_a_later_sweep_is_never_milder(s, policy, now, seconds):
    assert decide(s, policy, now + dt.timedelta(seconds=seconds)).severity >= decide(s, policy, now).severity


@st.composite
def not_ours(draw: st.DrawFn, policy_name: str) -> Suspension:
    s = draw(suspensions())
    assume(s.reason is not SuspendReason.NONPAYMENT or s.policy != policy_name)
    return s


@given(st.data(), policies, st.lists(st.tuples(money, st.integers(0, 100 * 3600)), min_size=1, max_size=8))
def test_nothing_resumes_a_suspension_the_policy_did_not_make(data, policy, sweeps):
    s = data.draw(states(suspension=not_ours(policy.name)))
    suspension, now = s.suspension, NOW
    for balance, seconds in sweeps:  # money comes and goes, time passes: it stays as staff left it
        now += dt.timedelta(seconds=seconds)
        s = attrs.evolve(s, balance=balance)
        d = decide(s, policy, now)
        assert (d.action, d.code, d.notice_level) == (Action.OK, "not_our_suspension", None)
        s = apply(s, d, policy, now)
        assert s.suspension == suspension


@given(states(), policies, nows)
def test_a_second_sweep_after_the_first_decides_nothing_new(s, policy, now):
    first = decide(s, policy, now)
    after = apply(s, first, policy, now)
    second = decide(after, policy, now)
    assert second.action is Action.OK, (first, second)
    assert second.notice_level is None, (first, second)
    assert apply(after, second, policy, now) == after
    if first.action is Action.SUSPEND:
        assert after.suspension is not None
        assert after.suspension.policy == policy.name


@given(
    policies.filter(lambda p: p.resume_margin > 0),
    st.booleans(),
    st.data(),
    st.lists(st.tuples(st.floats(0, 0.999), st.integers(0, 50 * 3600), st.integers(0, 20)), max_size=12),
)
def test_no_flapping_inside_the_resume_margin(policy, suspended, data, sweeps):
    start = data.draw(states(suspension=st.just(Suspension(at=NOW, reason="nonpayment", policy=policy.name)))
                      if suspended else states(suspension=st.none()))  # fmt: skip
    s, now = attrs.evolve(start, promised=()), NOW
    sent: list[int] = []
    for fraction, seconds, spend in sweeps:
        now += dt.timedelta(seconds=seconds)
        limit = policy.limit_for(s)
        credit = (policy.resume_margin * D(str(fraction))).quantize(D("0.01"), rounding="ROUND_FLOOR")
        s = attrs.evolve(s, balance=credit - limit, hourly_spend=D(spend))
        d = decide(s, policy, now)
        assert 0 <= d.credit < policy.resume_margin
        assert d.action not in {Action.SUSPEND, Action.RESUME}, d
        if d.notice_level is not None:
            sent.append(d.notice_level)
        s = apply(s, d, policy, now)
        assert (s.suspension is not None) is suspended
    assert sent == sorted(set(sent), reverse=True), "a notice level was sent twice or out of order"


# ==================================================================================== bad policies
nonsense = st.sampled_from([None, "abc", [], {}, object(), True, False, "nan", float("nan"), float("inf")])
negative_amounts = st.decimals(max_value=D("-0.01"), places=2, allow_nan=False, allow_infinity=False)
bad_values: dict[str, st.SearchStrategy[object]] = {
    "name": st.sampled_from(["", "   ", " lead", "trail ", 3, None, b"x"]),
    "default_credit_limit": negative_amounts | negative_amounts.map(str) | nonsense,
    "resume_margin": negative_amounts | st.floats(max_value=-0.001) | nonsense,
    "grace_amount": negative_amounts | st.integers(max_value=-1) | nonsense.filter(lambda v: v is not None),
    "grace_hours": st.floats(max_value=-1e-9) | st.integers(max_value=-1) | nonsense | st.just("24"),
    "spend_window_hours": st.floats(max_value=0) | st.integers(max_value=0) | nonsense,
    "notice_hours": st.sampled_from([[0], [-1], [24, 24], [True], [1.5], ["24"], "72", 72, None, [24, None]])
    | st.lists(st.integers(max_value=0), min_size=1),
    "use_billing_credit_limit": st.sampled_from([0, 1, "true", "yes", None, 1.0]),
    "notice_at_limit": st.sampled_from([0, 1, "false", None]),
    "auto_resume": st.sampled_from([0, 1, "on", None]),
    "delete_after_days": st.integers(max_value=0) | st.sampled_from([1.5, True, "30", 30.0, float("nan")]),
}


@st.composite
def bad_fields(draw: st.DrawFn) -> tuple[str, object]:
    field = draw(st.sampled_from(sorted(bad_values)))
    return field, draw(bad_values[field])


@given(bad_fields(), st.booleans())
def test_a_bad_policy_is_a_config_error_naming_the_field(bad, through_toml):
    field, value = bad
    with pytest.raises(ConfigError) as caught:
        if through_toml:
            StopPolicy.from_mapping({"grace_hours": 1, field: value})
        else:
            StopPolicy(**{field: value})  # type: ignore[arg-type]
    assert f"StopPolicy.{field} " in str(caught.value)


@given(st.text(min_size=1).filter(lambda k: k not in attrs.fields_dict(StopPolicy)))
def test_an_unknown_key_is_a_config_error_naming_it(key):
    with pytest.raises(ConfigError) as caught:
        StopPolicy.from_mapping({key: 1})
    assert f"StopPolicy.{key} is not a policy field" in str(caught.value)


@given(policies)
def test_a_valid_policy_survives_its_own_toml_table(policy):
    table = {
        field.name: (
            str(value) if isinstance(value, Decimal) else list(value) if isinstance(value, tuple) else value
        )
        for field in attrs.fields(StopPolicy)
        if (value := getattr(policy, field.name)) is not None
    }
    assert StopPolicy.from_mapping(table) == policy
