"""Every Tungsten Fabric workaround, each registered as a :class:`~cloudkit.Quirk` with its handlers.

``_wire.py``, ``_client.py`` and ``cloudkit.platform`` call these handlers by name, so ``grep quirk``
finds every workaround and errors raised here carry ``.quirk``.
"""

from __future__ import annotations

import re
import uuid as uuid_lib
from collections.abc import Mapping, Sequence
from typing import Any

from cloudkit._core._errors import error_for_status
from cloudkit._core._quirks import Quirk, quirk
from cloudkit._keystone import KeystoneIdentity
from cloudkit.errors import (
    ApiError,
    CloudkitError,
    ConfigError,
    ConflictError,
    NotFoundError,
    PermissionDeniedError,
)
from cloudkit.tungsten._models import ObjectRef

SYSTEM = "tungsten"
_REF = "reference/tungsten.md"

ADMIN_SCOPE_CAPTURE = Quirk(
    id="tungsten.admin-scope-capture",
    system="tungsten",
    summary=(
        "TF authorises every call and assigns ownership with the scope of whichever Keystone token made "
        "it; it has no identity of its own. When TF and the OpenStack integration share one admin "
        "account and the portal switches to a customer's scope, routing calls fail with 403 "
        "(cloud-admin mode) or admin-owned objects vanish from lists (rbac mode); giving that user admin "
        "on every project makes every token cloud-admin instead."
    ),
    handling=(
        "TungstenClient logs in to Keystone itself as a dedicated TF service account (its own user and "
        "project, password or application credential) and has no API that takes a caller's token. "
        "Objects made for a customer are created under the customer's project with an explicit "
        "perms2.owner, so ownership never depends on the token's scope. Platform raises ConfigError when "
        "the TF identity equals the OpenStack identity; cloudkit doctor checks a live deployment (same "
        "user, admin role) and a 403 on a token without the admin role names the fix."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/tungsten/create_virtual_network__for_customer.yaml",
        "cassettes/tungsten/list_virtual_networks__service_account_without_admin.yaml",
        f"{_REF} §2.3-2.5 (scope of the token decides), §7.13 (the seven-step scenario)",
        "FIELD-NOTES.md Tungsten Fabric 1",
        "tungstenfabric/tf-controller src/config/api-server/vnc_cfg_api_server/vnc_perms.py",
    ),
)

PLAIN_TEXT_ERRORS = Quirk(
    id="tungsten.plain-text-errors",
    system="tungsten",
    summary=(
        "Error bodies are plain text (the server's message), not JSON, and 409 means both 'already "
        "exists' and 'still in use': a refused delete lists the blocking objects only as hrefs inside "
        "the text."
    ),
    handling=(
        "Each error is mapped by status (cloudkit's one status map) and message prefix to a typed error: "
        "409 'already exists' and 'still referred'/'children still present' become ConflictError with a "
        "message saying which and naming the blocking objects (blocking_objects(err) returns them; "
        "code stays None, TF sends none); an exhausted subnet or a network without subnets is a "
        "ConflictError too; 404 is NotFoundError, 403 PermissionDeniedError, 5xx a retryable "
        "ServerError. Neutron-proxy JSON bodies ({'exception': ...}) map by exception name, which "
        "becomes the code."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/tungsten/delete_virtual_network__port_still_uses_it.yaml",
        "cassettes/tungsten/create_virtual_network__duplicate_name.yaml",
        "cassettes/tungsten/get_virtual_network__wrong_type.yaml",
        f"{_REF} §1.5, §1.8, §4 (409 always RefsExistError)",
        "tungstenfabric/tf-controller src/config/api-server/vnc_cfg_api_server/api_server.py",
    ),
)

MTU_NOT_IN_DHCP = Quirk(
    id="tungsten.mtu-not-in-dhcp",
    system="tungsten",
    summary=(
        "A virtual network's mtu property is not handed to guests by the vRouter's DHCP server on its "
        "own (no code copies it into option 26): guests keep 1500 on an overlay with a smaller path "
        "MTU, and large packets (an SSH session printing a lot) hang while small ones pass."
    ),
    handling=(
        "Setting a network's MTU (create_virtual_network(mtu=...), update_virtual_network(mtu=...)) also "
        "sets DHCP option 26 (interface-mtu) on each of its IPv4 subnets, in the same request; "
        "Subnet.mtu shows what guests will receive."
    ),
    evidence="assumption",
    sources=(
        "cassettes/tungsten/create_virtual_network__mtu_dhcp_option.yaml",
        "cassettes/tungsten/update_virtual_network__mtu.yaml",
        f"{_REF} §5 (agent DHCP reads dhcp_option_list; no copy of virtual-network.mtu found) [inferred]",
        "FIELD-NOTES.md Tungsten Fabric 2",
    ),
)

PUT_REPLACES_REFS = Quirk(
    id="tungsten.put-replaces-refs",
    system="tungsten",
    summary=(
        "A ref list in a PUT replaces every stored ref of that type: updating one ref with a partial "
        "list silently drops the others (the vnc_api client diffs refs itself for this reason)."
    ),
    handling=(
        "One ref is added or removed with POST /ref-update; the only PUT that carries refs (a network's "
        "subnets and MTU) first reads the network and sends its complete network_ipam_refs list, "
        "keeping every ref and every subnet uuid it does not change."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/tungsten/associate_floating_ip__ref_update.yaml",
        "cassettes/tungsten/update_virtual_network__mtu.yaml",
        f"{_REF} §1.4 (PUT replaces the stored list), §1.7 (/ref-update), §4",
        "tungstenfabric/tf-controller src/config/api-server/vnc_cfg_api_server/api_server.py (/ref-update)",
    ),
)

NAIVE_PLURALS = Quirk(
    id="tungsten.naive-plurals",
    system="tungsten",
    summary=(
        "Collection URLs are the type name plus 's', however odd: /network-policys, /virtual-DNSs, "
        "/bgp-as-a-services."
    ),
    handling="Collection paths are built by one function, type + 's', never by English plural rules.",
    evidence="upstream-source",
    sources=(
        "cassettes/tungsten/list_virtual_networks__paged.yaml",
        f"{_REF} §1.1 (_generate_resource_crud_uri)",
        (
            "tungstenfabric/tf-controller src/config/api-server/vnc_cfg_api_server/api_server.py "
            "(_generate_resource_crud_uri)"
        ),
    ),
)

_HEX32 = re.compile(r"^[0-9a-fA-F]{32}$")


VROUTER_KERNEL = Quirk(
    id="tungsten.vrouter-kernel",
    system="tungsten",
    summary=(
        "The vRouter forwarding plane is an out-of-tree kernel module (vrouter.ko) built for the kernels "
        "a TF release was tested with; a compute node joined with a newer kernel runs a vRouter that "
        "gets no routes, and no TF API says so: the agent's analytics UVE (VrouterAgent) and nodemgr's "
        "NodeStatus carry no kernel at all."
    ),
    handling=(
        "cloudkit doctor reads every vRouter agent from TF's analytics API (TungstenClient.vrouter_agents) "
        "and compares each node's kernel, read at a UVE field the deployment names (the default "
        "VrouterAgent.kernel_version is cloudkit's, not TF's), with the release's supported kernels: an "
        "operator setting whose default is the list in the release notes (R21.12 by default). An "
        "unsupported kernel is a finding naming the node; a node that reports no kernel is a warning."
    ),
    evidence="upstream-source",
    sources=(
        "cassettes/tungsten/vrouter_agents__kernels.yaml",
        "tungstenfabric/docs release/releases/R21.12/index.rst (supported platforms: kernel per OS)",
        "tungstenfabric/tf-controller src/vnsw/agent/uve/vrouter.sandesh (VrouterAgent: no kernel field)",
        "tungstenfabric/tf-controller src/nodemgr/common/linux_sys_data.py (NodeStatus: cpu, memory, disk)",
        "https://www.juniper.net/documentation/en_US/contrail21/topics/task/configuration/analytics-apis-vnc.html",
        f"{_REF} §5 (vRouter vs kernel: build for the exact running kernel)",
        "FIELD-NOTES.md Tungsten Fabric 3",
    ),
)

DOCUMENTED_KERNELS: dict[str, tuple[str, ...]] = {
    # tungstenfabric/docs release/releases/R21.12/index.rst, "Supported Platforms and Versions"
    "R21.12": (
        "3.10.0-1160.25.1.el7.x86_64",
        "4.15.0-166-generic",
        "4.18.0-193.29.1",
        "4.18.0-305.19.1.el8_4.x86_64",
        "5.4.0-92-generic",
    ),
}
"""Each TF release's supported kernels, as its release notes list them (the doctor's default)."""


@quirk(VROUTER_KERNEL)
def kernel_supported(kernel: str, supported: Sequence[str]) -> bool:
    """Whether ``kernel`` (``uname -r``) is one of ``supported``.

    A listed version also covers its own builds with a longer suffix after a dot: release notes write
    ``4.18.0-193.29.1`` for the ``uname -r`` ``4.18.0-193.29.1.el8_2.x86_64`` (assumption: inferred from
    how the R21.12 table mixes full and shortened versions).

    Example:
        >>> from cloudkit.tungsten._quirks import kernel_supported
        >>> kernel_supported("4.18.0-193.29.1.el8_2.x86_64", ["4.18.0-193.29.1"])
        True
        >>> kernel_supported("5.15.0-91-generic", ["5.4.0-92-generic"])
        False
    """
    kernel = kernel.strip()
    # assumption: a shortened version in the release notes stands for its distro builds (see above)
    return any(kernel == k or kernel.startswith(f"{k}.") for k in supported if k)


def dashed(project_id: str) -> str:
    """A project id in TF's dashed uuid form (Keystone ids come without dashes).

    Example:
        >>> from cloudkit.tungsten._quirks import dashed
        >>> dashed("0123456789abcdef0123456789abcdef")
        '01234567-89ab-cdef-0123-456789abcdef'
    """
    return str(uuid_lib.UUID(project_id)) if _HEX32.match(project_id) else project_id


def undashed(project_id: str) -> str:
    """A project id as TF stores it in ``perms2.owner`` (no dashes)."""
    return project_id.replace("-", "")


# ---------------------------------------------------------------------------------- admin scope
@quirk(ADMIN_SCOPE_CAPTURE)
def ownership(project_id: str, *, global_access: int = 0) -> dict[str, Any]:
    """``perms2`` that makes ``project_id`` the owner, whoever's token creates the object.

    Without it, objects parented by the config root (instance-ip) or by a non-project (floating-ip)
    would be owned by the service account's project, and a customer in rbac mode would not see them.

    Example:
        >>> from cloudkit.tungsten._quirks import ownership
        >>> ownership("01234567-89ab-cdef-0123-456789abcdef")["owner"]
        '0123456789abcdef0123456789abcdef'
    """
    return {"owner": undashed(project_id), "owner_access": 7, "global_access": global_access, "share": []}


@quirk(ADMIN_SCOPE_CAPTURE)
def shared_identity(
    tungsten: KeystoneIdentity | None, openstack: KeystoneIdentity | None
) -> ConfigError | None:
    """The error for TF settings that log in as the OpenStack identity acting in users' scope, or ``None``.

    Example:
        >>> from cloudkit.tungsten import KeystoneIdentity
        >>> from cloudkit.tungsten._quirks import shared_identity
        >>> same = KeystoneIdentity.of("http://ks:5000/v3", "admin", "Default")
        >>> shared_identity(same, same).quirk
        'tungsten.admin-scope-capture'
    """
    if tungsten is None or openstack is None or tungsten != openstack:
        return None
    ADMIN_SCOPE_CAPTURE.fired(f"user {tungsten.user_name!r} at {tungsten.host}")
    return ConfigError(
        f"Tungsten Fabric and OpenStack log in as the same Keystone user {tungsten.user_name!r} "
        f"(domain {tungsten.user_domain!r} at {tungsten.host}): TF takes on the scope of whoever acts, so "
        "when the portal acts in a customer's scope TF stops managing routing. Fix: create a dedicated "
        "TF service account with its own project and the admin role there, and give its credentials "
        "to TungstenSettings (CLOUDKIT_TUNGSTEN_USERNAME, _PASSWORD, _PROJECT_NAME or an application "
        "credential)",
        system=SYSTEM,
        operation="configure",
        quirk=ADMIN_SCOPE_CAPTURE.id,
    )


@quirk(ADMIN_SCOPE_CAPTURE)
def explain_refusal(err: CloudkitError, identity: KeystoneIdentity | None) -> CloudkitError:
    """Tag a 403 with the quirk and the fix when the service account's token has no ``admin`` role.

    In cloud-admin mode TF refuses every call from such a token; in rbac mode it refuses objects
    owned by other projects. Other errors pass through unchanged.
    """
    if not isinstance(err, PermissionDeniedError) or identity is None or identity.is_admin:
        return err
    ADMIN_SCOPE_CAPTURE.fired(f"403 for {identity.user_name!r} without admin")
    err.quirk = ADMIN_SCOPE_CAPTURE.id
    # No ready-made `openstack role add` command: the refused token's project may be a customer's, and
    # admin there is the trap itself (the account would take on that customer's scope in TF).
    err.add_note(
        f"TF refused {identity.user_name!r} (roles {list(identity.roles)} on project "
        f"{identity.project_name!r}, no 'admin'): TF needs a dedicated service account holding admin on "
        "its own service project, and acting only there; never give it admin on a customer's project"
    )
    return err


# ---------------------------------------------------------------------------------- plain-text errors
_CONFLICT_KINDS = (
    ("already exists", "exists"),
    ("still referred", "still-referred"),
    ("children still present", "children-present"),
    ("already in use", "ip-in-use"),
)
_BAD_REQUESTS: tuple[tuple[str, type[ApiError]], ...] = (
    ("exhausted", ConflictError),
    ("no defined subnet", ConflictError),
    ("does not exist", NotFoundError),
    ("unknown reference", NotFoundError),
    ("bad reference", NotFoundError),
)
# contrail-api is a bottle app: its 413 is a body too large, not OpenStack's overLimit.
STATUS_OVERRIDES: Mapping[int, type[ApiError]] = {413: ApiError}
_HREF = re.compile(
    r"https?://[^/\s'\"\]]+/([A-Za-z][A-Za-z0-9-]*)/"
    r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"
)
_NEUTRON_CLASSES: tuple[tuple[str, type[ApiError]], ...] = (
    ("NotFound", NotFoundError),
    ("InUse", ConflictError),
    ("Exists", ConflictError),
    ("Exhausted", ConflictError),
    ("AdminRequired", PermissionDeniedError),
    ("NotAuthorized", PermissionDeniedError),
)


@quirk(PLAIN_TEXT_ERRORS)
def classify(status: int, text: str) -> tuple[type[ApiError], str | None]:
    """The error class for a TF answer of ``status`` with plain-text body ``text``, and for a 409 the kind
    of conflict the text names (``exists``, ``still-referred``, ``children-present``, ``ip-in-use``).

    The kind only shapes cloudkit's message: TF sends no error code, so the error's ``code`` stays None.

    Example:
        >>> from cloudkit.tungsten._quirks import classify
        >>> cls, kind = classify(409, "Delete when resource still referred: ['http://h:8082/x/1']")
        >>> cls.__name__, kind
        ('ConflictError', 'still-referred')
    """  # noqa: D205 (the summary names both results)
    lowered = text.lower()
    if status == 409:  # noqa: PLR2004
        return ConflictError, next((kind for needle, kind in _CONFLICT_KINDS if needle in lowered), None)
    if status == 400:  # noqa: PLR2004
        for needle, cls in _BAD_REQUESTS:
            if needle in lowered:
                return cls, None
    return error_for_status(status, system=SYSTEM, overrides=STATUS_OVERRIDES), None


@quirk(PLAIN_TEXT_ERRORS)
def classify_neutron(exception: str) -> tuple[type[ApiError], str]:
    """The error class for a Neutron-proxy JSON error named ``exception`` (``NetworkNotFound``, ...).

    Example:
        >>> from cloudkit.tungsten._quirks import classify_neutron
        >>> classify_neutron("NetworkInUse")[0].__name__
        'ConflictError'
    """
    for suffix, cls in _NEUTRON_CLASSES:
        if suffix in exception:
            return cls, exception
    return ApiError, exception


@quirk(PLAIN_TEXT_ERRORS)
def refs_in_text(text: str) -> tuple[ObjectRef, ...]:
    """The objects a plain-text error names by href (a refused delete lists its blockers this way).

    Example:
        >>> from cloudkit.tungsten._quirks import refs_in_text
        >>> refs_in_text("Delete when resource still referred: "
        ...              "['http://h:8082/virtual-machine-interface/6f1c0d3e-0000-4000-8000-000000000001']")
        (ObjectRef(type='virtual-machine-interface', uuid='6f1c0d3e-0000-4000-8000-000000000001', fq_name=()),)
    """  # noqa: E501 (a doctest line)
    seen: dict[tuple[str, str], ObjectRef] = {}
    for match in _HREF.finditer(text):
        key = (match.group(1), match.group(2).lower())
        seen.setdefault(key, ObjectRef(type=key[0], uuid=key[1]))
    return tuple(seen.values())


# ---------------------------------------------------------------------------------- MTU
_MTU_NAMES = frozenset({"26", "interface-mtu"})


@quirk(MTU_NOT_IN_DHCP)
def with_interface_mtu(options: Sequence[Mapping[str, Any]], mtu: int | None) -> list[dict[str, Any]]:
    """``dhcp_option`` entries with option 26 (interface-mtu) set to ``mtu``, others kept in order.

    ``mtu=None`` leaves the options as they are.

    Example:
        >>> from cloudkit.tungsten._quirks import with_interface_mtu
        >>> with_interface_mtu([{"dhcp_option_name": "6", "dhcp_option_value": "10.0.0.2"}], 1450)
        [{'dhcp_option_name': '6', 'dhcp_option_value': '10.0.0.2'}, {'dhcp_option_name': '26', 'dhcp_option_value': '1450'}]
    """  # noqa: E501 (a doctest line)
    kept = [dict(option) for option in options]
    if mtu is None:
        return kept
    MTU_NOT_IN_DHCP.fired(f"option 26 = {mtu}")
    kept = [o for o in kept if str(o.get("dhcp_option_name", "")).strip().lower() not in _MTU_NAMES]
    return [*kept, {"dhcp_option_name": "26", "dhcp_option_value": str(mtu)}]


# ---------------------------------------------------------------------------------- refs
@quirk(PUT_REPLACES_REFS)
def complete_ref_list(current: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The full ref list to send in a PUT, each ref as ``{"to", "uuid", "attr"}`` (hrefs dropped).

    Sending fewer refs than TF stores would delete the missing ones.

    Example:
        >>> from cloudkit.tungsten._quirks import complete_ref_list
        >>> complete_ref_list([{"to": ["d", "p", "ipam"], "uuid": "u1", "href": "h", "attr": None}])
        [{'to': ['d', 'p', 'ipam'], 'uuid': 'u1', 'attr': None}]
    """
    return [{"to": ref.get("to"), "uuid": ref.get("uuid"), "attr": ref.get("attr")} for ref in current]


@quirk(PUT_REPLACES_REFS)
def ref_update(operation: str, subject: ObjectRef, ref: ObjectRef, attr: Any = None) -> dict[str, Any]:
    """The body of ``POST /ref-update`` that adds or removes one ref, leaving the others alone.

    Example:
        >>> from cloudkit.tungsten import ObjectRef
        >>> from cloudkit.tungsten._quirks import ref_update
        >>> ref_update("ADD", ObjectRef(type="floating-ip", uuid="f1"),
        ...            ObjectRef(type="virtual-machine-interface", uuid="p1"))["ref-uuid"]
        'p1'
    """
    return {
        "operation": operation,
        "type": subject.type,
        "uuid": subject.uuid,
        "ref-type": ref.type,
        "ref-uuid": ref.uuid,
        "attr": attr,
    }


# ---------------------------------------------------------------------------------- URLs
@quirk(NAIVE_PLURALS)
def collection_path(obj_type: str) -> str:
    """The collection URL path of a type: the type name plus ``s``, as the API server builds it.

    Example:
        >>> from cloudkit.tungsten._quirks import collection_path
        >>> collection_path("network-policy"), collection_path("virtual-DNS")
        ('/network-policys', '/virtual-DNSs')
    """
    return f"/{obj_type}s"
