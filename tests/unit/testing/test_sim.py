"""``cloudkit sim``: the fakes on loopback, with a seeded population on request."""

from __future__ import annotations

import io
import queue
import threading

import pytest

from cloudkit.billing import BillingClient, BillingSettings
from cloudkit.cli import main, run_sim
from cloudkit.errors import ConfigError


class _Lines(io.StringIO):
    """Output that hands every finished line to the test as it is printed."""

    def __init__(self) -> None:
        super().__init__()
        self.lines: queue.Queue[str] = queue.Queue()

    def write(self, text: str) -> int:
        for line in text.splitlines():
            self.lines.put(line)
        return super().write(text)


def _serve(**kwargs: int) -> tuple[_Lines, threading.Event, threading.Thread]:
    out, stop = _Lines(), threading.Event()
    thread = threading.Thread(target=run_sim, args=(0, out), kwargs={"stop": stop, **kwargs}, daemon=True)
    thread.start()
    return out, stop, thread


def _until(out: _Lines, text: str) -> list[str]:
    seen = []
    while True:
        line = out.lines.get(timeout=30)
        seen.append(line)
        if text in line:
            return seen


def test_sim_seeds_accounts_a_customer_can_log_into():
    out, stop, thread = _serve(accounts=40, seed=3)
    try:
        lines = _until(out, "Press Ctrl-C")
        url = lines[0].split()[1]
        assert any("+ 40 seeded clients cust-1 .. cust-40" in line for line in lines), lines
        admin = BillingClient(BillingSettings(url=url, username="admin", password="secret", page_size=7))
        with admin:
            accounts = list(admin.iter_accounts())
            services = list(admin.iter_services())
        assert len(accounts) == 42  # alice, bob and the 40
        assert len([s for s in services if s.name.startswith("cust-")]) == 80
        customer = BillingClient(BillingSettings(url=url, username="cust-40", password="cust-40-pass"))
        with customer:
            assert {s.name for s in customer.list_services()} == {"cust-40-vm-1", "cust-40-vm-2"}
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_sim_refuses_a_negative_population():
    with pytest.raises(ConfigError, match="--accounts must be >= 0"):
        run_sim(0, io.StringIO(), stop=threading.Event(), accounts=-1)
    assert main(["sim", "--accounts", "-5"]) == 1
