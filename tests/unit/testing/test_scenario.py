"""Scenario files: what they may say, how a bad one is refused, and that seeding makes every part."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudkit.billing import BillingClient, ServiceStatus
from cloudkit.errors import ConfigError
from cloudkit.testing import PortalBackend
from cloudkit.testing.scenario import load_scenario, parse_scenario, seed_scenario

names = st.from_regex(r"[a-z][a-z0-9_-]{0,31}", fullmatch=True)
cents = st.integers(min_value=-(10**9), max_value=10**9).map(lambda n: Decimal(n).scaleb(-2))
amounts = cents.flatmap(lambda d: st.sampled_from([f"{d:f}", d]))  # as TOML strings or JSON numbers
services = st.fixed_dictionaries(
    {"product": st.sampled_from(["vps", "backup", "vps-small"])},
    optional={
        "status": st.sampled_from([s.name.lower() for s in ServiceStatus]),
        "price": cents.map(abs),
        "name": names,
    },
)
customers = st.fixed_dictionaries(
    {"name": names},
    optional={
        "balance": amounts,
        "credit_limit": cents.map(abs),
        "password": st.text(max_size=20).map(lambda t: f"pw#{t}#"),  # never a substring of a repr
        "services": st.lists(services, max_size=3),
    },
)
documents = st.lists(customers, max_size=4, unique_by=lambda c: c["name"]).map(lambda c: {"customers": c})


@given(documents)
def test_every_valid_document_parses_to_what_it_says(document):
    scenario = parse_scenario(document, source="gen")
    assert scenario.names() == [c["name"] for c in document["customers"]]
    for given_customer, customer in zip(document["customers"], scenario.customers, strict=True):
        assert customer.balance == Decimal(str(given_customer.get("balance", "100")))
        assert customer.credit_limit == given_customer.get("credit_limit")
        password = given_customer.get("password")
        assert (customer.password is None) == (password is None)
        assert password is None or password not in repr(customer)  # a Secret, masked
        for given_service, service in zip(given_customer.get("services", []), customer.services, strict=True):
            assert service.status.name.lower() == given_service.get("status", "active")
            assert service.price == given_service.get("price", 0)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)


@given(st.dictionaries(st.sampled_from(["customers", "x"]), json_values, max_size=2))
def test_any_document_parses_or_is_a_config_error(document):
    try:
        parse_scenario(document, source="fuzz")
    except ConfigError as exc:
        message = str(exc)
    else:
        return
    assert message.startswith("scenario fuzz: ")


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"customer": []}, "the document: unknown field 'customer'"),
        ({"customers": {}}, "customers: an array of tables, not a table"),
        ({"customers": [{}]}, "customers[0].name: missing"),
        ({"customers": [{"name": "Ann"}]}, "customers[0].name: a lowercase login"),
        ({"customers": [{"name": "ann"}, {"name": "ann"}]}, "customers[1].name: 'ann' is listed twice"),
        ({"customers": [{"name": "ann", "balance": True}]}, "customers[0].balance: an amount"),
        ({"customers": [{"name": "ann", "balance": "1.005"}]}, "in whole cents, not '1.005'"),
        ({"customers": [{"name": "ann", "balance": "NaN"}]}, "customers[0].balance: a finite amount"),
        ({"customers": [{"name": "ann", "credit_limit": -1}]}, "customers[0].credit_limit: at least 0"),
        ({"customers": [{"name": "ann", "password": ""}]}, "customers[0].password: a non-empty string"),
        (
            {"customers": [{"name": "ann", "services": [{"product": "vps", "status": "on"}]}]},
            "customers[0].services[0].status: one of ordered, active",
        ),
        (
            {"customers": [{"name": "ann", "servers": [{"name": "w", "system_volume_size": 0}]}]},
            "customers[0].servers[0].system_volume_size: whole GiB",
        ),
    ],
)
def test_a_bad_field_is_named(document, message):
    with pytest.raises(ConfigError, match=r"^scenario s\.toml: ") as info:
        parse_scenario(document, source="s.toml")
    assert message in str(info.value)


def test_toml_and_json_files_and_their_syntax_errors_name_the_line(tmp_path):
    good = tmp_path / "s.json"
    good.write_text(json.dumps({"customers": [{"name": "ann", "balance": 9.9}]}))
    assert load_scenario(good).customers[0].balance == Decimal("9.90")
    broken = tmp_path / "broken.json"
    broken.write_text('{"customers": [\n  {"name": }]}')
    with pytest.raises(ConfigError, match=r"broken.json: not JSON: .* at line 2"):
        load_scenario(broken)
    toml = tmp_path / "broken.toml"
    toml.write_text("[[customers]]\nname = \n")
    with pytest.raises(ConfigError, match=r"broken.toml: not TOML: .*line 2"):
        load_scenario(toml)


def test_seeding_makes_services_credit_and_servers_and_refuses_a_taken_name():
    scenario = load_scenario("examples/scenario.toml")
    with PortalBackend(billing_options={"seed": False}) as backend:
        made = seed_scenario(backend, scenario)
        billing, cloud = backend.billing_fake, backend.openstack_fake
        assert [c.name for c in made] == ["alice", "bob", "carol"]
        assert billing.credit_limit_of("bob") == Decimal(50)
        with BillingClient(backend.billing_settings(made[0])) as alice:
            items = alice.list_services()
        assert [(i.name, billing.service_params(i.id)) for i in items] == [
            ("alice-web", {"product": "vps-small", "price": "9.90"}),
            ("alice-backup-2", {"product": "backup", "price": "2.00"}),
        ]
        assert [s.name for s in cloud.servers()] == ["alice-web-1"]
        with pytest.raises(ConfigError, match="customers already there: alice, bob, carol"):
            seed_scenario(backend, scenario)


def test_a_server_on_a_missing_image_is_refused_before_anything_is_made():
    scenario = parse_scenario(
        {"customers": [{"name": "ann"}, {"name": "ben", "servers": [{"name": "w", "image": "plan9"}]}]},
        source="s.toml",
    )
    with PortalBackend(billing_options={"seed": False}) as backend:
        with pytest.raises(ConfigError, match=r"customer ben, server w: no image 'plan9' \(there are "):
            seed_scenario(backend, scenario)
        assert backend.customers == {}
        assert backend.billing_fake.account_of("ann") is None


@pytest.mark.parametrize(
    ("servers", "message"),
    [
        ([{"name": "w", "flavor": "m9.huge"}], r"customer ben, server w: no flavor 'm9.huge' \(there are "),
        ([{"name": "w"}, {"name": "w"}], r"customer ben, server w: that server name is used twice"),
    ],
)
def test_a_server_on_a_missing_flavor_or_a_repeated_name_is_refused_before_anything_is_made(servers, message):
    scenario = parse_scenario(
        {"customers": [{"name": "ann"}, {"name": "ben", "servers": servers}]}, source="s.toml"
    )
    with PortalBackend(billing_options={"seed": False}) as backend:
        with pytest.raises(ConfigError, match=message):
            seed_scenario(backend, scenario)
        assert backend.customers == {}
        assert not backend.billing_fake.has_user("ann")


@pytest.mark.parametrize("taken", ["admin", "portal", "svc-tf"])
def test_a_name_the_fakes_already_use_is_refused_before_anything_is_made(taken):
    scenario = parse_scenario({"customers": [{"name": "zed"}, {"name": taken}]}, source="s.toml")
    with PortalBackend(billing_options={"seed": False}) as backend:
        with pytest.raises(ConfigError, match=f"customers already there: {taken}"):
            seed_scenario(backend, scenario)
        assert backend.customers == {}
        assert not backend.billing_fake.has_user("zed")
