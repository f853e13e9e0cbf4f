r"""Alembic migrations of the saga store, shipped in the package and run by ``SagaStore.open``.

No ``alembic.ini`` is needed: :func:`cloudkit.lifecycle._store.alembic_config` builds the configuration in
code with ``script_location`` pointing here. To write a new revision during development::

    python -c "from cloudkit.lifecycle._store import alembic_config; from alembic import command; \\
    command.revision(alembic_config('sqlite:///dev.db'), 'what changed', autogenerate=True)"
"""
