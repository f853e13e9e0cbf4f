"""Hypothesis: Placement and TF analytics parsers take any JSON (only ResponseDecodeError escapes), and the
capacity arithmetic is Placement's own.
"""

import contextlib
import datetime as dt
import json
import math

from hypothesis import given
from hypothesis import strategies as st

from cloudkit import make_converter
from cloudkit.errors import ResponseDecodeError
from cloudkit.openstack import AggregateCapacity, BuildFailure, ResourceCapacity
from cloudkit.openstack._placement import (
    Inventory,
    Provider,
    aggregates_of,
    build_failures,
    by_aggregate,
    capacity_of,
    inventories_of,
    providers_of,
    usages_of,
)
from cloudkit.tungsten._quirks import kernel_supported
from cloudkit.tungsten._wire import vrouter_agent_of, vrouter_names_of

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
CLASSES = st.sampled_from(["VCPU", "MEMORY_MB", "DISK_GB", "CUSTOM_GPU"])
RATIOS = st.floats(min_value=0.01, max_value=64, allow_nan=False)


def _shaped(key, value):
    """Fuzz near the expected shape too: the right key with any value inside."""
    return st.one_of(JSON, st.fixed_dictionaries({key: value}))


@given(_shaped("resource_providers", st.lists(st.dictionaries(st.sampled_from(["uuid", "name"]), JSON))))
def test_providers_of_takes_any_json(payload):
    try:
        providers_of(payload, operation="placement_capacity")
    except ResponseDecodeError as exc:
        problem = exc.problems[0]
    else:
        problem = "$"
    assert problem.startswith("$")  # the path of what was wrong


@given(
    _shaped(
        "inventories",
        st.dictionaries(
            CLASSES, st.dictionaries(st.sampled_from(["total", "reserved", "allocation_ratio"]), JSON)
        ),
    )
)
def test_inventories_of_takes_any_json(payload):
    try:
        inventories_of(payload, operation="placement_capacity")
    except ResponseDecodeError as exc:
        problem = exc.problems[0]
    else:
        problem = "$"
    assert problem.startswith("$")  # the path of what was wrong


@given(_shaped("usages", st.dictionaries(CLASSES, JSON)), _shaped("aggregates", st.lists(JSON)))
def test_usages_and_aggregates_take_any_json(usages, aggregates):
    for parse, payload in ((usages_of, usages), (aggregates_of, aggregates)):
        with contextlib.suppress(ResponseDecodeError):
            parse(payload, operation="placement_capacity")


@given(
    st.lists(_shaped("name", JSON)),
    _shaped(
        "VrouterAgent", st.dictionaries(st.sampled_from(["kernel_version", "build_info", "platform"]), JSON)
    ),
)
def test_vrouter_parsers_take_any_json(listed, uve):
    for call in (
        lambda: vrouter_names_of(listed, operation="vrouter_agents"),
        lambda: vrouter_agent_of(uve, "cmp-1", operation="vrouter_agents"),
    ):
        with contextlib.suppress(ResponseDecodeError):
            call()


@given(
    kernel=st.from_regex(r"[0-9]\.[0-9]{1,2}\.[0-9]-[0-9]{1,4}-generic", fullmatch=True),
    build=st.text(max_size=10),
)
def test_vrouter_agent_of_reads_the_kernel_and_any_build_info(kernel, build):
    uve = {"VrouterAgent": {"kernel_version": kernel, "build_info": build}}
    agent = vrouter_agent_of(uve, "cmp-1", operation="vrouter_agents")
    assert agent.kernel == kernel
    wrapped = {"VrouterAgent": {"build_info": json.dumps({"build-info": [{"build-version": kernel}]})}}
    assert vrouter_agent_of(wrapped, "n", operation="x").build_version == kernel


INVENTORY = st.builds(
    lambda total, reserved_share, ratio: {
        "total": total,
        "reserved": int(total * reserved_share),
        "allocation_ratio": ratio,
        "min_unit": 1,
        "max_unit": total,
        "step_size": 1,
    },
    st.integers(min_value=0, max_value=10**6),
    st.floats(min_value=0, max_value=1),
    RATIOS,
)


@given(st.dictionaries(CLASSES, INVENTORY, min_size=1))
def test_capacity_is_placements_formula_floored(inventories):
    parsed = inventories_of({"inventories": inventories}, operation="placement_capacity")
    for name, wire in inventories.items():
        expected = math.floor((wire["total"] - wire["reserved"]) * wire["allocation_ratio"])
        assert parsed[name].capacity == max(expected, 0)
        # the largest whole allocation Placement accepts is exactly the capacity
        assert parsed[name].capacity <= (wire["total"] - wire["reserved"]) * wire["allocation_ratio"]


PROVIDER = st.builds(
    Provider,
    uuid=st.uuids().map(str),
    name=st.text(min_size=1, max_size=6),
    aggregates=st.lists(st.sampled_from(["a1", "a2", "a3"]), unique=True, max_size=2).map(tuple),
    inventories=st.dictionaries(
        CLASSES,
        st.builds(
            Inventory, total=st.integers(0, 4096), reserved=st.integers(0, 64), allocation_ratio=RATIOS
        ),
        max_size=3,
    ),
    usages=st.dictionaries(CLASSES, st.integers(0, 10**5), max_size=3),
)


@given(st.lists(PROVIDER, max_size=6))
def test_aggregates_sum_their_providers_and_free_is_never_negative(providers):
    aggregates = by_aggregate(providers, {"a1": "fast"})
    for aggregate in aggregates:
        members = [
            p
            for p in providers
            if (aggregate.aggregate in p.aggregates) or (aggregate.aggregate is None and not p.aggregates)
        ]
        assert aggregate.providers == tuple(p.name for p in members)
        assert aggregate.resources == capacity_of(members)
        for resource in aggregate.resources:
            assert 0 <= resource.free <= max(resource.capacity, 0)
            assert 0.0 <= resource.free_percent <= 100.0
            expected = sum(
                p.inventories[resource.resource_class].capacity
                for p in members
                if resource.resource_class in p.inventories
            )
            assert resource.capacity == expected
    assert {a.aggregate for a in aggregates} == {a for p in providers for a in (p.aggregates or (None,))}


@given(st.lists(st.integers(min_value=-7200, max_value=7200), max_size=8))
def test_build_failures_keep_exactly_those_since_the_start_of_the_window(offsets):
    now = dt.datetime(2026, 6, 1, 12, tzinfo=dt.UTC)
    since = now - dt.timedelta(hours=1)
    views = [
        {
            "id": f"s{i}",
            "name": f"n{i}",
            "fault": {
                "message": "No valid host was found. ",
                "created": (now + dt.timedelta(seconds=o)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }
        for i, o in enumerate(offsets)
    ]
    kept = [f.server_id for f in build_failures(views, since=since)]
    assert kept == [f"s{i}" for i, o in enumerate(offsets) if o >= -3600]


@given(
    st.lists(st.from_regex(r"[0-9]\.[0-9]{1,2}\.[0-9]-[0-9]{1,4}", fullmatch=True), min_size=1),
    st.from_regex(r"(\.el[0-9]_[0-9]\.x86_64)?", fullmatch=True),
)
def test_a_listed_kernel_covers_its_own_longer_builds(listed, suffix):
    for kernel in listed:
        assert kernel_supported(kernel + suffix, listed)


RESOURCES = st.builds(
    ResourceCapacity, resource_class=CLASSES, capacity=st.integers(0, 10**6), used=st.integers(0, 10**6)
)
CAPACITY_MODELS = {
    ResourceCapacity: RESOURCES,
    AggregateCapacity: st.builds(
        AggregateCapacity,
        aggregate=st.none() | st.uuids().map(str),
        name=st.none() | st.text(max_size=8),
        providers=st.lists(st.text(min_size=1, max_size=8), max_size=3).map(tuple),
        resources=st.lists(RESOURCES, max_size=3).map(tuple),
    ),
    BuildFailure: st.builds(
        BuildFailure,
        server_id=st.uuids().map(str),
        name=st.text(max_size=8),
        project_id=st.none() | st.text(min_size=1, max_size=8),
        message=st.text(max_size=20),
        at=st.datetimes(timezones=st.just(dt.UTC)),
    ),
}


@given(st.data())
def test_capacity_models_round_trip_through_the_converter_and_json_text(data):
    converter = make_converter(forbid_extra_keys=True)
    for model, strategy in CAPACITY_MODELS.items():
        instance = data.draw(strategy)
        text = json.dumps(converter.unstructure(instance))
        assert converter.structure(json.loads(text), model) == instance
