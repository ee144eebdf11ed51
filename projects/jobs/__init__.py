"""Job types (a registry) and the runner that executes them in the task worker.

Importing the package registers the built-in types: ``project.export`` and
``project.import_zip``.
"""

from projects.jobs import export, import_zip  # noqa: F401  (register the built-in job types)
