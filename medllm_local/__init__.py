"""medllm-local: a physician's own reports, turned into a local, offline diagnosis assistant.

Importing the package makes the process offline before anything else loads: every
network-capable library is switched to offline mode and a loopback-only socket guard is
installed (see ``core/offline.py``).
"""

from medllm_local.core import offline as _offline

_offline.activate()

__version__ = "0.1.0"
