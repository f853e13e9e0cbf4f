"""The portal session: a composite token wrapping billing and Keystone credentials, re-issued on change.

Example:
    >>> from cloudkit.session import MemoryTokenStore, SessionManager
    >>> manager = SessionManager(billing_url="http://127.0.0.1:1/billmgr",
    ...                          auth_url="http://127.0.0.1:1/v3", key=bytes(32))
    >>> manager
    SessionManager(billing_url='http://127.0.0.1:1/billmgr', auth_url='http://127.0.0.1:1/v3', kid='k1')
"""

from cloudkit._keystone import KeystoneIdentity
from cloudkit.session._client import SessionManager, same_name_identity
from cloudkit.session._models import IssuedToken, Session
from cloudkit.session._network import CustomerNetwork
from cloudkit.session._settings import SessionSettings
from cloudkit.session._store import MemoryTokenStore, SqliteTokenStore, TokenStore

__all__ = [
    "CustomerNetwork",
    "IssuedToken",
    "KeystoneIdentity",
    "MemoryTokenStore",
    "Session",
    "SessionManager",
    "SessionSettings",
    "SqliteTokenStore",
    "TokenStore",
    "same_name_identity",
]
