"""The test services' fixtures hand out servers that answer (``.ci/run`` starts them; see services.py)."""

import socket
from urllib.parse import urlsplit

import sqlalchemy as sa


def test_amqp_url_answers_the_amqp_handshake(amqp_url):
    parts = urlsplit(amqp_url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(b"AMQP\x00\x00\x09\x01")
        frame = sock.recv(7)
    assert frame[:1] == b"\x01"  # a method frame: Connection.Start
    assert frame[1:3] == b"\x00\x00"  # on channel 0


def test_lifecycle_db_url_is_an_empty_database(lifecycle_db_url):
    engine = sa.create_engine(lifecycle_db_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(sa.text("SELECT 1")).scalar() == 1
        assert sa.inspect(engine).get_table_names() == []
    finally:
        engine.dispose()
