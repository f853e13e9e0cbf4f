"""`compare` lists the modules outside `FIDELITY_MODULES` after the known ones, by name."""

from __future__ import annotations

from cloudkit.testing.fidelity import FIDELITY_MODULES, TargetRun, TestOutcome, compare

_PREFIX = "openstack.tests.functional."


def test_unknown_modules_follow_the_known_ones_in_name_order():
    known = FIDELITY_MODULES[0]
    outcomes = tuple(
        TestOutcome(f"{_PREFIX}{module.replace('/', '.')}.T.test_a", "passed")
        for module in ("zzz/test_late", known, "aaa/test_early")
    )
    rows = [
        line.split(" | ")[0].removeprefix("| ")
        for line in compare([TargetRun("fake", outcomes)]).splitlines()[2:]
    ]
    assert rows[:3] == [known, "aaa/test_early", "zzz/test_late"]
