"""The operator console: a small server-rendered web page over the lifecycle store.

Sagas that need an operator (with their last error and a Retry button), the stop rules' recent
decisions and the latest reconciliation findings. Flask (Jinja2 autoescape), no JavaScript, no build
step. Every request must name a loopback host (DNS rebinding); viewing and acting need the operator
token (a login form sets an HttpOnly, SameSite=Strict session cookie); every POST carries the
session's CSRF token and comes from the console's own origin. Flask is imported here only: the rest
of cloudkit imports without it (``pip install 'cloudkit[console]'``).

Example:
    >>> from cloudkit import Secret
    >>> from cloudkit.lifecycle import Lifecycle
    >>> from cloudkit.lifecycle.console import create_app
    >>> from cloudkit.platform import Platform
    >>> with Lifecycle(Platform(), db_url="sqlite://") as lifecycle:
    ...     app = create_app(lifecycle, token=Secret("a-long-operator-token-1234"))
    ...     app.test_client().get("/", headers={"Host": "127.0.0.1"}).status_code
    303
"""

from cloudkit.lifecycle.console.app import LOOPBACK_HOSTS, MIN_TOKEN_LENGTH, create_app
from cloudkit.lifecycle.console.server import ConsoleServer, serve

__all__ = ["LOOPBACK_HOSTS", "MIN_TOKEN_LENGTH", "ConsoleServer", "create_app", "serve"]
