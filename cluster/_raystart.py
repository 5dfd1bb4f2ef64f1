"""``ray start`` for the local demo cluster, kept on the loopback address 127.0.0.1.

Ray rewrites ``--node-ip-address 127.0.0.1`` to the host's outward address (``resolve_ip_for_localhost``), so
a plain ``ray start`` on 127.0.0.1 advertises (and its agents dial) the machine's LAN address. For a cluster that
lives on one machine only, this wrapper keeps 127.0.0.1 as given, and sets ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
for the processes that ``ray start`` spawns (dashboard, agents, job drivers, workers) so that they too resolve
"localhost" to 127.0.0.1; every socket of the cluster then listens on 127.0.0.1. The flag is read by Ray at import,
so this process still starts worker nodes. Used only by ``cluster.local``; real clusters run the plain ``ray start``.

Usage: ``python -m cluster._raystart start [ray start options]``.
"""

from __future__ import annotations

import os
import sys

from sweep.ray_session import keep_loopback


def main() -> int:
    from ray.scripts.scripts import main as ray_main

    keep_loopback()
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"  # for the children only; this process read it already
    sys.argv[0] = "ray"
    return ray_main()


if __name__ == "__main__":
    sys.exit(main())
