"""`Poller`: the exact poll times of a wait, its request count and its budget, on a FakeClock."""

import threading
from itertools import islice

import pytest

from cloudkit import Poller
from cloudkit.errors import ConfigError, WaitTimeoutError
from cloudkit.testing import FakeClock


class Transition:
    """A status that turns ``done`` ``seconds`` after it starts on ``clock``; records when it was polled.

    ``takes`` seconds pass on the clock during each poll (a slow answer), without a recorded sleep.
    """

    def __init__(self, clock: FakeClock, seconds: float, *, takes: float = 0.0) -> None:
        self.clock, self.seconds, self.takes, self.start = clock, seconds, takes, clock()
        self.polls: list[float] = []

    def __call__(self):
        elapsed = self.clock() - self.start
        self.polls.append(elapsed)
        self.clock.advance(self.takes)
        done = elapsed >= self.seconds
        return done, "done" if done else None, "done" if done else "pending"


def until(poller, clock, check, **kw):
    kw.setdefault("kind", "build")
    kw.setdefault("where", "cloud-a")
    kw.setdefault("budget", 60.0)
    return poller.until(check, clock=clock, sleep=clock.sleep, system="s", operation="op", **kw)


def wait(poller, clock, seconds, **kw):
    transition = Transition(clock, seconds)
    assert until(poller, clock, transition, **kw) == "done"
    return transition.polls


def bounds(poller, kind="build", where="cloud-a"):
    return poller.bounds(kind, where=where)


def test_a_new_kind_polls_at_once_then_each_poll_growth_times_later():
    clock = FakeClock()
    assert wait(Poller(first=1.0, growth=1.5), clock, 2.0) == [0.0, 1.0, 1.5, 2.25]


def test_gaps_are_capped_at_max_interval():
    plan = Poller(first=1.0, growth=2.0, max_interval=3.0).plan("boot")
    assert list(islice(plan, 7)) == [0.0, 1.0, 2.0, 4.0, 7.0, 10.0, 13.0]


def test_a_learned_wait_polls_at_the_start_of_the_bounds_then_seven_eighths_in():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0)  # (1.5, 2.25]
    assert wait(poller, clock, 2.0) == [1.5, 2.15625]  # not yet at the start; done 7/8 in: two requests
    assert bounds(poller) == (1.5, 2.15625)
    assert wait(poller, clock, 2.0) == [1.5, 2.07421875]
    assert bounds(poller) == (1.5, 2.07421875)


def test_steady_transitions_end_close_to_the_transition_with_two_polls():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, tail=0.05)
    runs = [wait(poller, clock, 2.0) for _ in range(12)]
    # bounds (1.5, 2.25], then (1.5, 2.156], (1.5, 2.074], (1.5, 2.002]; the fifth wait's 7/8 poll is
    # too early (1.94 s), so it polls at the end too: (1.94, 2.002], narrower than 5%, stays
    assert [len(polls) for polls in runs] == [4, 2, 2, 2, 3, 2, 2, 2, 2, 2, 2, 2]
    assert runs[0][-1] == 2.25  # the first wait ends within growth (1.5x)
    ends = [polls[-1] / 2.0 for polls in runs[1:]]
    assert ends == sorted(ends, reverse=True)  # each learned wait ends no later than the one before
    assert all(end <= 1.05 for end in ends[2:])  # from the fourth wait: within tail (5%)
    assert all(polls[0] < 2.0 for polls in runs[1:])  # each looked before the transition ended


def test_a_faster_transition_is_seen_at_the_start_of_the_bounds_and_learned_at_once():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0)
    wait(poller, clock, 2.0)  # (1.5, 2.15625]
    assert wait(poller, clock, 0.5) == [1.5]  # one request, at the start of the bounds: done already
    assert bounds(poller) == (0.0, 1.5)  # disagrees with the older waits: they are left out
    assert wait(poller, clock, 0.5) == [0.0, 1.3125]  # then it closes in from there
    assert bounds(poller) == (0.0, 1.3125)


def test_a_slower_transition_is_followed_in_doubling_steps_and_the_old_pace_forgotten():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, tail=0.05, max_interval=5.0)
    wait(poller, clock, 2.0)  # (1.5, 2.25]
    polls = wait(poller, clock, 3.0)
    # the start, 7/8 in, the end, then steps of 0.1125, 0.225, 0.45, 0.9 from there
    assert polls == pytest.approx([1.5, 2.15625, 2.25, 2.3625, 2.5875, 3.0375])
    assert bounds(poller) == pytest.approx((2.5875, 3.0375))  # (1.5, 2.25] disagrees: dropped


def test_clouds_learn_apart():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0, where="https://keystone.a/v3 RegionOne")
    assert wait(poller, clock, 2.0, where="https://keystone.b/v3 RegionOne") == [0.0, 1.0, 1.5, 2.25]
    assert wait(poller, clock, 2.0, where="https://keystone.a/v3 RegionTwo") == [0.0, 1.0, 1.5, 2.25]
    assert wait(poller, clock, 2.0, where="https://keystone.a/v3 RegionOne") == [1.5, 2.15625]
    assert repr(poller).endswith(
        "learned=['https://keystone.a/v3 RegionOne: build', 'https://keystone.a/v3 RegionTwo: build', "
        "'https://keystone.b/v3 RegionOne: build'])"
    )


def test_kinds_learn_apart():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0, kind="a")
    assert wait(poller, clock, 0.0, kind="b") == [0.0]
    assert bounds(poller, "a") == (1.5, 2.25)
    assert bounds(poller, "b") == (0.0, 0.0)
    assert wait(poller, clock, 0.0, kind="b") == [0.0]  # an instant transition stays polled at once


def test_memory_zero_learns_nothing():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, memory=0)
    assert wait(poller, clock, 2.0) == wait(poller, clock, 2.0) == [0.0, 1.0, 1.5, 2.25]
    assert bounds(poller) is None


def test_the_budget_stops_the_wait_before_a_poll_past_it():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    transition = Transition(clock, 10.0)
    with pytest.raises(WaitTimeoutError) as info:
        until(poller, clock, transition, kind="k", budget=3.0)
    assert transition.polls == [0.0, 1.0, 1.5, 2.25]  # the next, at 3.375 s, would be past the budget
    assert (info.value.last_status, info.value.operation, info.value.system) == ("pending", "op", "s")
    assert clock() <= 3.0
    assert bounds(poller, "k") is None  # a timeout teaches nothing


def test_the_deadline_is_read_on_the_clock_not_summed_from_the_plan():
    # each poll takes 0.8 s to answer; the plan's times are 0, 1, 1.5, 2.25, 3.375, ...
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    transition = Transition(clock, 10.0, takes=0.8)
    with pytest.raises(WaitTimeoutError):
        until(poller, clock, transition, budget=3.0)
    # 1.5 went by while the poll at 1.0 was answered (until 1.8): skipped, not made back to back
    assert transition.polls == pytest.approx([0.0, 1.0, 2.25])
    assert clock.sleeps == pytest.approx([0.2, 0.45])
    assert clock() == pytest.approx(3.05)  # answered past the deadline; the poll at 3.375 s is not made


def test_a_wait_never_polls_after_its_deadline_however_slow_its_polls():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    transition = Transition(clock, 10.0, takes=5.0)
    with pytest.raises(WaitTimeoutError):
        until(poller, clock, transition, budget=3.0)
    assert transition.polls == [0.0]  # it answered at 5 s, past the 3 s deadline: no second poll
    assert clock.sleeps == []


def test_a_learned_first_poll_past_the_budget_happens_at_the_deadline():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0)
    transition = Transition(clock, 2.0)
    with pytest.raises(WaitTimeoutError):
        until(poller, clock, transition, budget=1.0)
    assert transition.polls == [1.0]
    zero = Transition(clock, 0.0)
    assert until(poller, clock, zero, budget=0) == "done"
    assert zero.polls == [0.0]


def test_a_given_plan_is_followed_and_nothing_is_learned():
    clock, poller = FakeClock(), Poller()
    transition = Transition(clock, 5.0)
    with pytest.raises(WaitTimeoutError):
        until(poller, clock, transition, kind="grace", budget=2.0, plan=Poller.doubling(0.25, 5.0))
    assert transition.polls == [0.0, 0.25, 0.75, 1.75]
    found = Transition(clock, 0.5)
    until(poller, clock, found, kind="grace", budget=2.0, plan=[0, 1])
    assert found.polls == [0.0, 1.0]
    assert bounds(poller, "grace") is None


def test_a_plan_is_strictly_increasing_when_the_bounds_are_a_point():
    poller = Poller(first=1.0, tail=0.05)
    poller.observe("instant", 0.0, 0.0)
    assert list(islice(poller.plan("instant"), 4)) == pytest.approx([0.0, 0.05, 0.15, 0.35])


@pytest.mark.parametrize(
    "knobs",
    [
        {"first": 0},
        {"growth": 1.0},
        {"max_interval": -1},
        {"tail": 0},
        {"tail": 1},
        {"memory": -1},
        {"memory": 8.0},
        {"memory": True},
        {"first": True},
        {"growth": "2"},
    ],
)
def test_bad_knobs_are_config_errors(knobs):
    with pytest.raises(ConfigError):
        Poller(**knobs)


def test_repr_names_knobs_and_learned_kinds():
    poller = Poller()
    poller.observe("create_server:ACTIVE", 1.0, 2.0)
    assert repr(poller) == (
        "Poller(first=1.0, growth=1.5, max_interval=5.0, tail=0.05, memory=8, "
        "learned=['create_server:ACTIVE'])"
    )


def test_repr_reads_under_the_lock():
    """A repr while another thread holds the lock waits for it (no dict changing size mid-iteration)."""
    poller = Poller()
    got: list[str] = []
    with poller._lock:  # the test holds the lock; repr in another thread must wait for it
        reader = threading.Thread(target=lambda: got.append(repr(poller)))
        reader.start()
        reader.join(timeout=0.2)
        assert reader.is_alive()
        assert got == []
        poller._seen[("", "k")] = None  # type: ignore[assignment]  # written while repr waits
    reader.join()
    assert got[0].endswith("learned=['k'])")
