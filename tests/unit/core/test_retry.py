import logging

import pytest

from cloudkit import RetryPolicy
from cloudkit.errors import ApiError, ConfigError, ServerError, TransportError
from cloudkit.testing import FakeClock


def flaky(*outcomes):
    answers = iter(outcomes)
    calls = []

    def call():
        calls.append(1)
        answer = next(answers)
        if isinstance(answer, BaseException):
            raise answer
        return answer

    call.calls = calls
    return call


def policy(clock, **kw):
    return RetryPolicy(sleep=clock.sleep, clock=clock, jitter=0, **kw)


def test_retries_retryable_errors_with_exponential_backoff():
    clock = FakeClock()
    fn = flaky(ServerError("a"), TransportError("b"), "done")
    assert policy(clock).call(fn, system="billing", operation="op") == "done"
    assert clock.sleeps == [0.2, 0.4]


def test_does_not_retry_non_retryable_errors():
    clock = FakeClock()
    fn = flaky(ApiError("no"), "never")
    with pytest.raises(ApiError):
        policy(clock).call(fn, system="billing", operation="op")
    assert len(fn.calls) == 1
    assert clock.sleeps == []


def test_gives_up_after_attempts_and_notes_it():
    clock = FakeClock()
    fn = flaky(*[ServerError("down")] * 5)
    with pytest.raises(ServerError) as info:
        policy(clock, attempts=3).call(fn, system="billing", operation="list_accounts")
    assert len(fn.calls) == 3
    assert "after 3 attempts" in info.value.__notes__[0]


def test_deadline_stops_before_a_backoff_would_cross_it():
    clock = FakeClock()
    fn = flaky(*[ServerError("down")] * 20)
    with pytest.raises(ServerError):
        policy(clock, attempts=20, deadline=2.0, initial_delay=0.5, max_delay=10).call(
            fn, system="billing", operation="op"
        )
    assert sum(clock.sleeps) <= 2.0
    assert clock.sleeps == [0.5, 1.0]


def test_jitter_stays_within_bounds():
    clock = FakeClock()
    fn = flaky(*[ServerError("x")] * 3, "ok")
    RetryPolicy(sleep=clock.sleep, clock=clock, jitter=0.3).call(fn, system="s", operation="o")
    for base, slept in zip([0.2, 0.4, 0.8], clock.sleeps, strict=True):
        assert base <= slept <= base + 0.3


def test_retry_is_logged_with_context(caplog):
    clock = FakeClock()
    err = ServerError("wsrep", quirk="openstack.wsrep-not-ready")
    with caplog.at_level(logging.WARNING, logger="cloudkit.retry"):
        policy(clock).call(flaky(err, "ok"), system="openstack", operation="list_servers")
    (record,) = caplog.records
    assert record.cloudkit_system == "openstack"
    assert record.cloudkit_operation == "list_servers"
    assert record.cloudkit_attempt == 1
    assert record.cloudkit_quirk == "openstack.wsrep-not-ready"


def test_write_is_not_repeated_when_the_first_attempt_landed():
    clock = FakeClock()
    created = []

    def create():
        created.append("x")
        raise TransportError("answer lost")

    result = policy(clock).call_write(
        create, landed=lambda: created[0] if created else None, system="b", operation="create"
    )
    assert result == "x"
    assert created == ["x"]


def test_write_is_repeated_when_read_back_shows_nothing_landed():
    clock = FakeClock()
    fn = flaky(TransportError("refused"), "created")
    assert policy(clock).call_write(fn, landed=lambda: None, system="b", operation="c") == "created"
    assert len(fn.calls) == 2


@pytest.mark.parametrize("kwargs", [{"attempts": 0}, {"deadline": 0}, {"initial_delay": -1}])
def test_invalid_policy_is_a_config_error(kwargs):
    with pytest.raises(ConfigError):
        RetryPolicy(**kwargs)
