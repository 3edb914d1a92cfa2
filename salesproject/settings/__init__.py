"""Settings for the sales analytics backend.

Every setting comes from the environment (see docs/configuration.md and .env.example).
With no environment at all the project runs in its embedded default: a SQLite file, the
local-memory cache and Celery tasks executed eagerly in process.

A misconfigured variable stops start-up with ``ImproperlyConfigured`` naming the variable
(the parsers, ``env_int`` and the like, are in ``salesproject/environment.py``).

The settings are split by concern, one module each, imported here in this order (a later part may
use what an earlier one set): ``base``, ``database``, ``cache``, ``tasks``, ``api``, ``catalog``,
``locale_files_logging``, ``ops``, ``security``, ``limits``, ``analytics``.
``DJANGO_SETTINGS_MODULE`` stays ``salesproject.settings``.
"""

# In this order (base first: it reads the .env file before any other part reads the
# environment); not sorted.
# isort: off
from salesproject.settings.base import *  # noqa: F403
from salesproject.settings.database import *  # noqa: F403
from salesproject.settings.cache import *  # noqa: F403
from salesproject.settings.tasks import *  # noqa: F403
from salesproject.settings.api import *  # noqa: F403
from salesproject.settings.catalog import *  # noqa: F403
from salesproject.settings.locale_files_logging import *  # noqa: F403
from salesproject.settings.ops import *  # noqa: F403
from salesproject.settings.security import *  # noqa: F403
from salesproject.settings.limits import *  # noqa: F403
from salesproject.settings.analytics import *  # noqa: F403
# isort: on
