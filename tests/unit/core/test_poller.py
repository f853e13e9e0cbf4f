"""`Poller`: the exact poll times of a wait, its request count and its budget, on a FakeClock."""

from itertools import islice

import pytest

from cloudkit import Poller
from cloudkit.errors import ConfigError, WaitTimeoutError
from cloudkit.testing import FakeClock


class Transition:
    """A status that turns ``done`` ``seconds`` after it starts on ``clock``; records when it was polled."""

    def __init__(self, clock: FakeClock, seconds: float) -> None:
        self.clock, self.seconds, self.start = clock, seconds, clock()
        self.polls: list[float] = []

    def __call__(self):
        elapsed = self.clock() - self.start
        self.polls.append(elapsed)
        done = elapsed >= self.seconds
        return done, "done" if done else None, "done" if done else "pending"


def until(poller, clock, check, **kw):
    kw.setdefault("kind", "build")
    kw.setdefault("budget", 60.0)
    return poller.until(check, clock=clock, sleep=clock.sleep, system="s", operation="op", **kw)


def wait(poller, clock, seconds, **kw):
    transition = Transition(clock, seconds)
    assert until(poller, clock, transition, **kw) == "done"
    return transition.polls


def test_a_new_kind_polls_at_once_then_each_poll_growth_times_later():
    clock = FakeClock()
    assert wait(Poller(first=1.0, growth=1.5), clock, 2.0) == [0.0, 1.0, 1.5, 2.25]


def test_gaps_are_capped_at_max_interval():
    plan = Poller(first=1.0, growth=2.0, max_interval=3.0).plan("boot")
    assert list(islice(plan, 7)) == [0.0, 1.0, 2.0, 4.0, 7.0, 10.0, 13.0]


def test_the_next_wait_of_a_kind_polls_once_inside_the_learned_bounds():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0)  # (1.5, 2.25]
    assert wait(poller, clock, 2.0) == [2.0625]  # 1.5 + 0.75 * 0.75: found done, one request
    assert poller.bounds("build") == (1.5, 2.0625)
    assert wait(poller, clock, 2.0) == [1.921875, 2.0625]  # not yet, then at the upper bound
    assert poller.bounds("build") == (1.921875, 2.0625)


def test_steady_transitions_converge_to_one_poll_within_the_tail():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, tail=0.05)
    runs = [wait(poller, clock, 2.0) for _ in range(12)]
    assert [len(polls) for polls in runs] == [4, 1, 2, 1, 1, 1, 1, 1, 1, 1, 1, 2]
    # every learned wait ends within 5% of the transition; the cold one within growth (1.5x)
    assert all(polls[-1] <= 2.0 * 1.05 for polls in runs[1:])
    assert runs[0][-1] == 2.25
    # once the memory (8 waits) forgets the last "not yet", the next wait probes lower again
    assert runs[-1][0] < 2.0 <= runs[-1][1]


def test_kinds_learn_apart():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0, kind="a")
    assert wait(poller, clock, 0.0, kind="b") == [0.0]
    assert poller.bounds("a") == (1.5, 2.25)
    assert poller.bounds("b") == (0.0, 0.0)
    assert wait(poller, clock, 0.0, kind="b") == [0.0]  # an instant transition stays polled at once


def test_a_slower_transition_is_followed_in_doubling_steps_and_the_old_pace_forgotten():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, tail=0.05, max_interval=5.0)
    wait(poller, clock, 2.0)  # (1.5, 2.25]
    polls = wait(poller, clock, 3.0)
    # 2.0625 in the bounds, 2.25 at their end, then steps of 0.1125, 0.225, 0.45, 0.9 from there
    assert polls == pytest.approx([2.0625, 2.25, 2.3625, 2.5875, 3.0375])
    assert poller.bounds("build") == pytest.approx((2.5875, 3.0375))  # (1.5, 2.25] disagrees: dropped


def test_a_faster_transition_is_found_by_the_first_poll_and_learned():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    wait(poller, clock, 2.0)
    assert wait(poller, clock, 0.5) == [2.0625]
    assert poller.bounds("build") == (1.5, 2.0625)  # still agrees with the older wait
    assert wait(poller, clock, 0.5) == [1.921875]


def test_memory_zero_learns_nothing():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5, memory=0)
    assert wait(poller, clock, 2.0) == wait(poller, clock, 2.0) == [0.0, 1.0, 1.5, 2.25]
    assert poller.bounds("build") is None


def test_the_budget_stops_the_wait_before_a_poll_past_it():
    clock, poller = FakeClock(), Poller(first=1.0, growth=1.5)
    transition = Transition(clock, 10.0)
    with pytest.raises(WaitTimeoutError) as info:
        until(poller, clock, transition, kind="k", budget=3.0)
    assert transition.polls == [0.0, 1.0, 1.5, 2.25]  # the next, at 3.375 s, would be past the budget
    assert (info.value.last_status, info.value.operation, info.value.system) == ("pending", "op", "s")
    assert sum(clock.sleeps) <= 3.0
    assert poller.bounds("k") is None  # a timeout teaches nothing


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
    assert poller.bounds("grace") is None


@pytest.mark.parametrize(
    "knobs",
    [{"first": 0}, {"growth": 1.0}, {"max_interval": -1}, {"tail": 0}, {"tail": 1}, {"memory": -1}],
)
def test_bad_knobs_are_config_errors(knobs):
    with pytest.raises(ConfigError):
        Poller(**knobs)


def test_repr_names_knobs_and_learned_kinds():
    poller = Poller()
    poller.observe("create_server:ACTIVE", 1.0, 2.0)
    assert repr(poller) == (
        "Poller(first=1.0, growth=1.5, max_interval=5.0, tail=0.05, memory=8, kinds=['create_server:ACTIVE'])"
    )
