"""Operator work behind ``manage.py``: seeding at scale, backups, tenant archives, validation.

One module per concern, each usable without the command line (the commands
in ``organizations/management/commands/`` only parse options and print):

* :mod:`.scale_seed` — ``seed --scale``: generated tenant data loaded with COPY;
* :mod:`.backup` — ``backup``, ``restore``, ``backup_verify``: ``pg_dump``
  custom-format backups with a manifest computed in the dump's own snapshot;
* :mod:`.archive` — ``export_org``, ``import_org``, ``erase_org``: one
  tenant's rows as a self-describing archive;
* :mod:`.validate` — ``db_validate``: orphans, cross-tenant references,
  constraints after bulk loads, RLS compliance, table bloat.

Shared plumbing lives in :mod:`.pg` (logins, client programs, catalog reads,
checksums) and :mod:`.schema` (what the models say about tenant tables).
Runbooks: ``docs/operations.md``.
"""
