"""`IdentityAdmin`: Keystone's admin side (projects, users, role grants), each operation idempotent.

The building block of onboarding a customer: their project, their user and the user's role on the
project, made by a dedicated admin service account. Every write looks before it acts, so a re-run
sends only reads; a create whose answer was lost is read back by name and never repeated blindly
(Keystone has no idempotency key either, but names are unique within a domain); a role grant is
verified by Keystone's own check (``HEAD``). Bodies are built and answers read by
:mod:`cloudkit._keystone`; refusals become cloudkit errors through the one status map.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import openstack.connection

from cloudkit._core._errors import scrub
from cloudkit._core._retry import RetryPolicy
from cloudkit._core._secret import Secret
from cloudkit._keystone import (
    KeystoneProject,
    KeystoneUser,
    keystone_error,
    parse_entity,
    parse_listing,
    parse_project,
    parse_user,
    project_body,
    user_body,
)
from cloudkit.errors import (
    CloudkitError,
    ConflictError,
    InvalidArgumentError,
    NotFoundError,
    OutcomeError,
)
from cloudkit.openstack._client import OpenStackClient, _Connected, _translate
from cloudkit.openstack._settings import OpenStackSettings

__all__ = ["IdentityAdmin"]

log = logging.getLogger("cloudkit.openstack")
T = TypeVar("T")
_Named = TypeVar("_Named", KeystoneProject, KeystoneUser)
SYSTEM = "openstack"
_NOT_FOUND = 404
_OK = frozenset({200, 201, 204})


class IdentityAdmin(_Connected):
    """Keystone's admin API for onboarding: ensure a project, a user and a role grant; idempotent.

    The calling identity must hold ``admin`` (Keystone's default policy, ``rule:admin_required``):
    anyone else gets :class:`~cloudkit.errors.PermissionDeniedError` from Keystone on the first call.

    Args:
        settings: the admin service account (project-scoped, role ``admin``); or pass ``connection``.
        connection: an existing ``openstack.connection.Connection`` (the caller keeps ownership).
        retry: the retry policy for reads and verified writes.

    Example:
        >>> from cloudkit import Secret
        >>> from cloudkit.openstack import IdentityAdmin, OpenStackSettings
        >>> from cloudkit.testing.fakes import OpenStackFake
        >>> with OpenStackFake() as fake, IdentityAdmin(OpenStackSettings(auth_url=fake.auth_url,
        ...         username="admin", password="secret", project_name="admin")) as admin:
        ...     project = admin.ensure_project("cust-42", tags=("cloudkit",))
        ...     user = admin.ensure_user("cust-42", password=Secret("s3cret"), project=project)
        ...     admin.grant_role(user, project, "member")
        ...     again = admin.ensure_project("cust-42", tags=("cloudkit",))   # only reads this time
        ...     (again == project, admin.has_role(user, project, "member"))
        (True, True)
    """

    def __init__(
        self,
        settings: OpenStackSettings | None = None,
        *,
        connection: openstack.connection.Connection | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        """Create the admin client; authentication happens on the first call."""
        super().__init__(settings, connection=connection, retry=retry)
        self._domains: dict[str, str] = {}  # domain name (casefolded) -> id; domains do not move

    @classmethod
    def of(cls, client: OpenStackClient) -> IdentityAdmin:
        """The admin API over an :class:`OpenStackClient`'s connection and retry policy (shared, not owned).

        Example:
            >>> from cloudkit.openstack import IdentityAdmin, OpenStackClient, OpenStackSettings
            >>> from cloudkit.testing.fakes import OpenStackFake
            >>> with OpenStackFake() as fake, OpenStackClient(OpenStackSettings(auth_url=fake.auth_url,
            ...         username="admin", password="secret", project_name="admin")) as client:
            ...     IdentityAdmin.of(client).find_project("alice").name
            'alice'
        """
        return cls(connection=client._conn, retry=client._retry)  # noqa: SLF001 (same package)

    # ------------------------------------------------------------------------------ projects
    def find_project(self, name: str, *, domain: str = "Default") -> KeystoneProject | None:
        """The project called ``name`` in ``domain`` (``GET /v3/projects?name=&domain_id=``), or ``None``.

        Raises:
            NotFoundError: no such domain.
            PermissionDeniedError: the caller is not an admin.
        """
        return self._find_named("projects", parse_project, name, domain, operation="find_project")

    def create_project(
        self, name: str, *, domain: str = "Default", description: str = "", tags: tuple[str, ...] = ()
    ) -> KeystoneProject:
        """Create a project (``POST /v3/projects``); a duplicate name is Keystone's 409.

        Not idempotent by itself: use :meth:`ensure_project`. After a lost answer it is repeated only
        when a read-back by name finds nothing.

        Raises:
            ConflictError: a project of that name exists in the domain.
            PermissionDeniedError: the caller is not an admin.
        """
        operation = "create_project"
        _require_name(name, operation)
        domain_id = self._domain_id(domain, operation)
        body = project_body(name, domain_id=domain_id, description=description, tags=tuple(tags))

        def attempt() -> KeystoneProject:
            reply = self._send("post", "/projects", operation, body=body)
            return parse_project(
                parse_entity(reply.content, "project", system=SYSTEM, operation=operation),
                system=SYSTEM,
                operation=operation,
            )

        project = self._retry.call_write(
            attempt, landed=lambda: self.find_project(name, domain=domain), system=SYSTEM, operation=operation
        )
        log.info("created Keystone project %s (%s)", project.name, project.id)
        return project

    def ensure_project(
        self, name: str, *, domain: str = "Default", description: str = "", tags: tuple[str, ...] = ()
    ) -> KeystoneProject:
        """The project called ``name``: found, or created once. A re-run sends only reads.

        A project found by name is adopted only if it carries every tag in ``tags`` (the handle saying
        it is ours): a same-named project without them is a :class:`ConflictError`, never silently
        taken over. Its description is left as it is.

        Raises:
            ConflictError: a project of that name exists without ``tags``.
            PermissionDeniedError: the caller is not an admin.
        """
        operation = "ensure_project"
        found = self.find_project(name, domain=domain)
        if found is None:
            try:
                # The create's own lost-answer read-back finds the project by name: whoever made it,
                # it is checked for our tags below like any project found by name.
                found = self.create_project(name, domain=domain, description=description, tags=tags)
            except ConflictError:  # made in between by someone else: adopt it if it is ours
                found = self.find_project(name, domain=domain)
                if found is None:
                    raise
        missing = sorted(set(tags) - set(found.tags))
        if missing:
            raise ConflictError(
                f"project {name!r} exists ({found.id}) without the tags {missing}; not adopting it",
                system=SYSTEM,
                operation=operation,
            )
        return found

    def delete_project(self, project: KeystoneProject | str) -> None:
        """Delete a project (``DELETE /v3/projects/{id}``); one that is already gone counts as deleted.

        Keystone removes the project's role assignments with it; servers and volumes in it are not
        Keystone's and stay (delete them first).
        """
        operation = "delete_project"
        project_id = _id_of(project, "project", operation)
        self._retry.call(
            lambda: self._send("delete", f"/projects/{project_id}", operation, missing_ok=True),
            system=SYSTEM,
            operation=operation,
        )

    # ------------------------------------------------------------------------------ users
    def find_user(self, name: str, *, domain: str = "Default") -> KeystoneUser | None:
        """The user called ``name`` in ``domain`` (``GET /v3/users?name=&domain_id=``), or ``None``."""
        return self._find_named("users", parse_user, name, domain, operation="find_user")

    def ensure_user(
        self,
        name: str,
        *,
        password: Secret,
        project: KeystoneProject | str | None = None,
        domain: str = "Default",
    ) -> KeystoneUser:
        """The user called ``name``: found, or created once with ``password`` and default ``project``.

        A user found by name is returned as it is: its password and default project are not changed
        (this is "make sure it exists", not "reset"). The password is sent only in the create body:
        never logged (the request is sent with keystoneauth's logging off), never in an error.

        Raises:
            InvalidArgumentError: ``password`` is not a :class:`~cloudkit.Secret` or is empty.
            PermissionDeniedError: the caller is not an admin.
        """
        operation = "ensure_user"
        _require_name(name, operation)
        given: object = password
        if not isinstance(given, Secret) or not given.get_secret_value():
            raise InvalidArgumentError(
                "password must be a non-empty Secret", system=SYSTEM, operation=operation
            )
        found = self.find_user(name, domain=domain)
        if found is not None:
            return found
        project_id = _id_of(project, "project", operation) if project is not None else None
        body = _HiddenPassword(
            user_body(
                name,
                password=password,
                domain_id=self._domain_id(domain, operation),
                default_project_id=project_id,
            )
        )

        def attempt() -> KeystoneUser:
            reply = self._send("post", "/users", operation, body=body, quiet=True)
            return parse_user(
                parse_entity(reply.content, "user", system=SYSTEM, operation=operation),
                system=SYSTEM,
                operation=operation,
            )

        try:
            user = self._retry.call_write(
                attempt,
                landed=lambda: self.find_user(name, domain=domain),
                system=SYSTEM,
                operation=operation,
            )
        except ConflictError as exc:  # made in between by someone else
            user_now = self.find_user(name, domain=domain)
            if user_now is None:
                raise _sealed(exc, password) from None
            return user_now
        except CloudkitError as exc:
            raise _sealed(exc, password) from None
        log.info("created Keystone user %s (%s)", user.name, user.id)
        return user

    def delete_user(self, user: KeystoneUser | str) -> None:
        """Delete a user (``DELETE /v3/users/{id}``); one that is already gone counts as deleted."""
        operation = "delete_user"
        user_id = _id_of(user, "user", operation)
        self._retry.call(
            lambda: self._send("delete", f"/users/{user_id}", operation, missing_ok=True),
            system=SYSTEM,
            operation=operation,
        )

    # ------------------------------------------------------------------------------ role grants
    def has_role(self, user: KeystoneUser | str, project: KeystoneProject | str, role: str) -> bool:
        """Whether ``user`` holds ``role`` on ``project`` directly (``HEAD``, Keystone's check_grant).

        Implied roles do not count (``admin`` does not make ``has_role(..., "member")`` true): this is
        the assignment, as :meth:`grant_role` makes it.
        """
        operation = "has_role"
        return self._has(self._grant_path(user, project, role, operation), operation)

    def grant_role(
        self, user: KeystoneUser | str, project: KeystoneProject | str, role: str = "member"
    ) -> None:
        """Give ``user`` the ``role`` on ``project``: checked first, granted if missing, checked again.

        A re-run sends only reads (the role lookup and the check). Keystone's ``PUT`` is idempotent, so a
        lost answer is simply retried.

        Raises:
            NotFoundError: no such role, user or project.
            OutcomeError: Keystone accepted the grant but does not report it afterwards.
            PermissionDeniedError: the caller is not an admin.
        """
        operation = "grant_role"
        path = self._grant_path(user, project, role, operation)
        if self._has(path, operation):
            return
        self._retry.call(lambda: self._send("put", path, operation), system=SYSTEM, operation=operation)
        if not self._has(path, operation):
            raise OutcomeError(
                f"Keystone accepted the {role!r} grant but does not report it",
                system=SYSTEM,
                operation=operation,
            )

    def revoke_role(self, user: KeystoneUser | str, project: KeystoneProject | str, role: str) -> None:
        """Take ``role`` on ``project`` from ``user``: checked first, revoked if present, checked again.

        Raises:
            OutcomeError: Keystone accepted the revocation but still reports the grant.
        """
        operation = "revoke_role"
        path = self._grant_path(user, project, role, operation)
        if not self._has(path, operation):
            return
        self._retry.call(
            lambda: self._send("delete", path, operation, missing_ok=True), system=SYSTEM, operation=operation
        )
        if self._has(path, operation):
            raise OutcomeError(
                f"Keystone accepted revoking {role!r} but still reports it",
                system=SYSTEM,
                operation=operation,
            )

    def roles_of(self, user: KeystoneUser | str, project: KeystoneProject | str) -> tuple[str, ...]:
        """The role names assigned to ``user`` on ``project`` directly, sorted
        (``GET /v3/projects/{p}/users/{u}/roles``).
        """  # noqa: D205 (two-line summary)
        operation = "roles_of"
        user_id, project_id = _id_of(user, "user", operation), _id_of(project, "project", operation)
        items = self._list(f"/projects/{project_id}/users/{user_id}/roles", "roles", operation, None)
        return tuple(sorted(str(i.get("name")) for i in items if i.get("name")))

    # ------------------------------------------------------------------------------ internals
    def _grant_path(
        self, user: KeystoneUser | str, project: KeystoneProject | str, role: str, operation: str
    ) -> str:
        user_id, project_id = _id_of(user, "user", operation), _id_of(project, "project", operation)
        _require_name(role, operation)
        return f"/projects/{project_id}/users/{user_id}/roles/{self._role_id(role, operation)}"

    def _role_id(self, role: str, operation: str) -> str:
        items = self._list("/roles", "roles", operation, {"name": role})
        found = [str(i["id"]) for i in items if i.get("name") == role and i.get("id")]
        if not found:
            raise NotFoundError(f"no Keystone role {role!r}", system=SYSTEM, operation=operation)
        return found[0]

    def _domain_id(self, domain: str, operation: str) -> str:
        key = domain.casefold()
        if key not in self._domains:
            items = self._list("/domains", "domains", operation, {"name": domain})
            found = [str(i["id"]) for i in items if str(i.get("name", "")).casefold() == key and i.get("id")]
            if not found:
                raise NotFoundError(f"no Keystone domain {domain!r}", system=SYSTEM, operation=operation)
            self._domains[key] = found[0]
        return self._domains[key]

    def _has(self, path: str, operation: str) -> bool:
        reply = self._retry.call(
            lambda: self._send("head", path, operation, missing_ok=True), system=SYSTEM, operation=operation
        )
        return reply is not None

    def _list(
        self, path: str, key: str, operation: str, params: Mapping[str, str] | None
    ) -> list[Mapping[str, Any]]:
        def fetch() -> list[Mapping[str, Any]]:
            reply = self._send("get", path, operation, params=params)
            return parse_listing(reply.content, key, system=SYSTEM, operation=operation)

        return self._retry.call(fetch, system=SYSTEM, operation=operation)

    def _find_named(
        self, collection: str, parse: Callable[..., _Named], name: str, domain: str, *, operation: str
    ) -> _Named | None:
        """The entity of ``collection`` called ``name`` in ``domain`` (``GET /v3/<collection>?name=``)."""
        _require_name(name, operation)
        domain_id = self._domain_id(domain, operation)
        items = self._list(f"/{collection}", collection, operation, {"name": name, "domain_id": domain_id})
        # The filters are Keystone's; checked again here in case a server ignores one of them.
        found = [
            entity
            for entity in (parse(i, system=SYSTEM, operation=operation) for i in items)
            if entity.name == name and entity.domain_id == domain_id
        ]
        return found[0] if found else None

    def _send(
        self,
        method: str,
        path: str,
        operation: str,
        *,
        body: Mapping[str, Any] | None = None,
        params: Mapping[str, str] | None = None,
        missing_ok: bool = False,
        quiet: bool = False,
    ) -> Any:
        """One Keystone request; a 404 is ``None`` when ``missing_ok``; any other refusal raises."""
        options: dict[str, Any] = {"raise_exc": False}
        if body is not None:
            options["json"] = body
        if params:
            options["params"] = dict(params)
        if quiet:
            options["log"] = False  # keystoneauth logs request bodies at debug level otherwise
        with _translate(operation):
            # Reading conn.identity logs in and reads the catalog: its failures are translated too.
            call: Callable[..., Any] = getattr(self._conn.identity, method)
            reply = call(path, **options)
        status = int(reply.status_code)
        if status == _NOT_FOUND and missing_ok:
            return None
        if status not in _OK:
            raise keystone_error(status, reply.headers, reply.content, system=SYSTEM, operation=operation)
        return reply


def _require_name(name: object, operation: str) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidArgumentError(
            f"a name must be non-empty text, got {name!r}", system=SYSTEM, operation=operation
        )


def _id_of(thing: KeystoneProject | KeystoneUser | str, kind: str, operation: str) -> str:
    ident = thing if isinstance(thing, str) else thing.id
    if not ident:
        raise InvalidArgumentError(f"a {kind} id must be non-empty", system=SYSTEM, operation=operation)
    return ident


def _sealed(exc: CloudkitError, password: Secret) -> CloudkitError:
    """``exc`` without the password: scrubbed, and cut from what could still hold it.

    A chained transport error keeps the request, body and all; the traceback's frames hold the body in
    their locals.
    """
    scrub(exc, [password.get_secret_value()])
    exc.__cause__ = exc.__context__ = None
    return exc.with_traceback(None)


class _HiddenPassword(dict[str, Any]):
    """A request body whose repr hides passwords: frames that hold it in a traceback show ``***``."""

    def __repr__(self) -> str:
        return repr(_masked(dict(self)))


def _masked(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: "***" if k == "password" else _masked(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_masked(v) for v in node]
    return node
