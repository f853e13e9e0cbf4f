"""Identity, scoping and image contract tests: cassette (recorded from the lab's real Keystone and
Glance), the fake, and the lab (``cloudkit lab``).

The same assertions hold on all three, which is what proves the fake faithful here.
"""

import pytest

from cloudkit.errors import AuthenticationError, NotFoundError, PermissionDeniedError


def test_token_info__portal(keystone_backend):
    client = keystone_backend.make_client()
    info = client.token_info()
    assert (info.user_name, info.project_name) == ("portal", "alice")
    assert "member" in info.roles
    assert info.expires_at.tzinfo is not None


def test_login__wrong_password(keystone_backend):
    client = keystone_backend.make_client(password="not-the-Passw0rd")
    with pytest.raises(AuthenticationError) as info:
        client.token_info()
    assert "not-the-Passw0rd" not in f"{info.value} {info.value!r}"


def test_validate_token__garbage(keystone_backend):
    client = keystone_backend.make_client()
    with pytest.raises(AuthenticationError) as info:
        client.validate_token("not-a-token")
    assert info.value.system == "openstack"


def test_validate_token__other_users_token_is_refused(keystone_backend):
    """Keystone's default policy lets a user validate only their own token (token_subject)."""
    keystone_backend.add_user("bob", "bob-pass", project="bob")
    portal = keystone_backend.make_client()
    bob = keystone_backend.make_client(username="bob", password="bob-pass", project_name="bob")
    with pytest.raises(PermissionDeniedError):
        portal.validate_token(bob.token())
    info = bob.token_info()
    assert (info.user_name, info.project_name) == ("bob", "bob")


def test_list_images__scoped(keystone_backend):
    client = keystone_backend.make_client()
    images = client.list_images()
    assert images
    first = client.get_image(images[0].id)
    assert (first.id, first.name) == (images[0].id, images[0].name)


def test_get_image__missing(keystone_backend):
    client = keystone_backend.make_client()
    with pytest.raises(NotFoundError):
        client.get_image("00000000-0000-4000-8000-000000000000")
