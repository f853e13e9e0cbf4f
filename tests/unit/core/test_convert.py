import datetime as dt
from decimal import Decimal

from cloudkit import make_converter
from cloudkit.openstack import KeystoneIdentity


def test_datetime_keeps_its_time_of_day_and_zone():
    info = KeystoneIdentity(
        user_id="u",
        user_name="portal",
        project_id="p",
        project_name="alice",
        roles=("member",),
        expires_at=dt.datetime(2030, 1, 1, 5, 6, 7, tzinfo=dt.UTC),
    )
    converter = make_converter()
    data = converter.unstructure(info)
    assert data["expires_at"] == "2030-01-01T05:06:07+00:00"
    assert converter.structure(data, KeystoneIdentity) == info


def test_decimal_and_date_travel_as_strings():
    converter = make_converter()
    assert converter.unstructure(Decimal("1.10")) == "1.10"
    assert converter.unstructure(dt.date(2030, 1, 2)) == "2030-01-02"
    assert converter.structure("2030-01-02", dt.date) == dt.date(2030, 1, 2)
