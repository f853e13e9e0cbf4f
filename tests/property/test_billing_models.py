"""Every billing model survives the cattrs converter, also through JSON text."""

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cloudkit import make_converter
from cloudkit.testing import strategies as cks

CONVERTER = make_converter()
STRICT = make_converter(forbid_extra_keys=True)
MODELS = {
    "Account": cks.accounts(),
    "Payment": cks.payments(),
    "Expense": cks.expenses(),
    "Invoice": cks.invoices(),
    "Ticket": cks.tickets(),
    "TicketMessage": cks.ticket_messages(),
    "Service": cks.services(),
    "RunningOperation": cks.running_operations(),
    "StaffTask": cks.staff_tasks(),
}


def test_every_model_has_a_strategy():
    assert sorted(MODELS) == sorted(cls.__name__ for cls in cks.MODEL_TYPES)


@pytest.mark.parametrize("model", cks.MODEL_TYPES, ids=lambda cls: cls.__name__)
@given(data=st.data())
def test_unstructure_structure_round_trip(model, data):
    instance = data.draw(MODELS[model.__name__])
    assert type(instance) is model
    assert CONVERTER.structure(CONVERTER.unstructure(instance), model) == instance
    assert STRICT.structure(STRICT.unstructure(instance), model) == instance


@given(cks.billing_models())
def test_round_trip_through_json_text(instance):
    text = json.dumps(CONVERTER.unstructure(instance))
    back = CONVERTER.structure(json.loads(text), type(instance))
    assert back == instance
    assert type(back) is type(instance)


@given(cks.billing_models())
def test_unstructured_form_is_plain_json_and_money_is_exact_text(instance):
    data = CONVERTER.unstructure(instance)
    assert json.loads(json.dumps(data)) == data
    for field in ("balance", "amount", "unpaid"):
        if field in data:
            assert isinstance(data[field], str)
            assert data[field] == str(getattr(instance, field))
