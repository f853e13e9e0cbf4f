"""The lifecycle part of ``cloudkit demo``: billing drives ``cloudkit-pm``, which runs sagas.

Against the embedded fakes, the way BILLmanager runs a processing module: the billing fake runs
``cloudkit-pm`` as a subprocess with ``--command open|suspend|resume|close --item N --runningoperation M``;
the module runs the saga against the OpenStack and Tungsten Fabric fakes and calls billing back. The
story orders a service as the customer, watches billing show it active, suspends and resumes it
through billing, closes it, and checks the cloud after each step.
"""

from __future__ import annotations

import functools
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from cloudkit._demos import Story
from cloudkit.billing import BillingClient, ServiceStatus
from cloudkit.lifecycle._models import Saga, SagaState
from cloudkit.lifecycle._steps import project_name
from cloudkit.openstack import OpenStackClient, OpenStackSettings

if TYPE_CHECKING:
    from cloudkit.lifecycle import Lifecycle
    from cloudkit.testing.fakes import BillingFake

__all__ = ["run"]

_CUSTOMER = ("dave", "dave-pass")
_MODULE_WAIT = 120.0  # seconds for one module run (a subprocess that imports cloudkit and runs a saga)


def run(story: Story) -> None:
    """Tell the lifecycle story; raises if any step does not behave as told.

    Example:
        >>> from cloudkit._demos.lifecycle import run
        >>> class Quiet:
        ...     def heading(self, text): pass
        ...     def note(self, text): pass
        ...     def step(self, text, action): return action()
        ...     def expect_error(self, text, error, action): raise AssertionError(text)
        >>> run(Quiet())
    """
    from cloudkit.lifecycle import Lifecycle  # noqa: PLC0415 (SQLAlchemy loads with it)
    from cloudkit.testing.lifecycle import LifecycleWorld  # noqa: PLC0415 (only the demo needs the fakes)

    with tempfile.TemporaryDirectory(prefix="cloudkit-demo-") as tmp:
        db_url = f"sqlite:///{Path(tmp) / 'lifecycle.sqlite3'}"
        module = [sys.executable, "-m", "cloudkit.lifecycle.pm"]
        with LifecycleWorld(processing_module=module, module_env={"CLOUDKIT_LIFECYCLE_DB": db_url}) as world:
            billing_fake = world.billing
            if billing_fake is None or world.tf is None:
                msg = "the lifecycle world did not start"
                raise AssertionError(msg)
            story.heading(
                f"Lifecycle: billing on {billing_fake.url} runs cloudkit-pm; "
                f"OpenStack {world.cloud.url}, TF {world.tf.url}"
            )
            customer = billing_fake.add_user(*_CUSTOMER, account_name="Dave GmbH")
            account = customer.account_id
            if account is None:
                msg = "the billing fake made a user without an account"
                raise AssertionError(msg)
            env = world.environ()
            with (
                world.platform.billing_client() as admin,
                Lifecycle(world.platform, db_url=db_url) as lifecycle,
            ):
                item = _tell(
                    story,
                    billing_fake=billing_fake,
                    admin=admin,
                    lifecycle=lifecycle,
                    account=account,
                    env=env,
                )
                story.note(f"saga store: {len(lifecycle.sagas(item=item))} sagas for item {item}, all done")


def _tell(
    story: Story,
    *,
    billing_fake: BillingFake,
    admin: BillingClient,
    lifecycle: Lifecycle,
    account: int,
    env: dict[str, str],
) -> int:
    from cloudkit.lifecycle.pm import FEATURES  # noqa: PLC0415

    customer = admin.as_user(_CUSTOMER[0])
    story.note(f"cloudkit-pm announces: {', '.join(FEATURES)}")
    with OpenStackClient(_settings(env, env["CLOUDKIT_OPENSTACK_PROJECT_NAME"])) as cloud_admin:
        image = next(i.id for i in cloud_admin.list_images() if "cirros" in i.name)
    created = story.step(
        "the customer orders a cloud server (vds.order.param, skipbasket): billing queues 'open'",
        lambda: customer.call(
            "vds.order.param",
            sok="ok",
            pricelist="1",
            period="1",
            skipbasket="on",
            image=image,
            flavor="1",
            system_volume_gb="10",
        ),
    )
    item = int(str(created["id"]["$"]))
    _await_module(story, billing_fake, f"billing runs cloudkit-pm --command open --item {item}")
    _check(story, admin, item, ServiceStatus.ACTIVE)
    saga = _last_saga(lifecycle, item)
    story.note(f"saga {saga.id[:8]}: {' -> '.join(f'{s.name}' for s in saga.steps)}, {saga.state.value}")
    server_id = saga.outside_ids["server"]
    with OpenStackClient(_settings(env, project_name(lifecycle.settings, account))) as cloud:
        server = story.step(
            f"the customer's server {server_id[:8]} in OpenStack", lambda: cloud.get_server(server_id)
        )
        story.note(
            f"{server.name}: {server.status}, system volume {server.system_volume_id}, "
            f"tags {sorted(server.tags)}"
        )

        for action, command, status, expect in (
            (admin.suspend_service, "suspend", ServiceStatus.SUSPENDED, ("SHUTOFF", True)),
            (admin.resume_service, "resume", ServiceStatus.ACTIVE, ("ACTIVE", False)),
        ):
            story.step(
                f"billing {command}s item {item}: in progress until the module calls back",
                functools.partial(action, item, wait=0),
            )
            _await_module(story, billing_fake, f"billing runs cloudkit-pm --command {command}")
            _check(story, admin, item, status)
            server = cloud.get_server(server_id)
            if (server.status, server.locked) != expect:
                msg = f"after {command} the server is {server.status}, locked={server.locked}"
                raise AssertionError(msg)
            story.note(f"server {server.status}, locked={server.locked}")

        story.step(f"billing deletes item {item}", lambda: admin.delete_service(item, wait=0))
        _await_module(story, billing_fake, "billing runs cloudkit-pm --command close")
        left = [s.id for s in cloud.list_servers(tags=[f"cloudkit-item:{item}"])]
        closed = ServiceStatus(billing_fake.service_status(item))
        if closed is not ServiceStatus.DELETED:
            msg = f"billing shows item {item} {closed.name} after close"
            raise AssertionError(msg)
        if left:
            msg = f"servers left after close: {left}"
            raise AssertionError(msg)
        story.note("server, system volume and addresses gone; billing shows the service deleted")
    if {s.state for s in lifecycle.sagas(item=item)} != {SagaState.DONE}:
        msg = "a saga of the story is not done"
        raise AssertionError(msg)
    return item


def _await_module(story: Story, billing_fake: BillingFake, text: str) -> None:
    def ran() -> str:
        if not billing_fake.wait_for_module_runs(_MODULE_WAIT):
            msg = "the processing module did not finish in time"
            raise AssertionError(msg)
        last = billing_fake.module_runs[-1]
        if last.exit_code != 0:
            msg = f"cloudkit-pm exited {last.exit_code}: {last.stdout.strip()} {last.stderr.strip()[-400:]}"
            raise AssertionError(msg)
        return last.stdout.strip().splitlines()[-1]

    story.note(f"module said {story.step(text, ran)}")


def _check(story: Story, admin: BillingClient, item: int, status: ServiceStatus) -> None:
    service = story.step(f"billing shows item {item} {status.name}", lambda: admin.get_service(item))
    if service.status is not status:
        msg = f"billing shows {service.status.name}, expected {status.name}"
        raise AssertionError(msg)


def _last_saga(lifecycle: Lifecycle, item: int) -> Saga:
    return lifecycle.sagas(item=item, limit=1)[0]


def _settings(env: dict[str, str], project: str) -> OpenStackSettings:
    """The lifecycle's service account scoped to ``project`` (it holds a role in every customer's)."""
    return OpenStackSettings(
        auth_url=env["CLOUDKIT_OPENSTACK_AUTH_URL"],
        username=env["CLOUDKIT_OPENSTACK_USERNAME"],
        password=env["CLOUDKIT_OPENSTACK_PASSWORD"],
        project_name=project,
    )
