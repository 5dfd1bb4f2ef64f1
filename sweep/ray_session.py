"""The one place that starts or joins Ray, for sweeps and studies alike.

``connect(address)`` joins an existing cluster (``address`` or ``RAY_ADDRESS``) or starts an embedded local Ray
sized to this machine: dashboard off, every socket on 127.0.0.1, token authentication as Ray sets it up for local
clusters (on unless ``RAY_AUTH_MODE=disabled``), without Ray's notice about it on every run. docs/security.md says
what listens where.
"""

from __future__ import annotations

import logging
import os

from model.errors import UsageError

LOOPBACK = "127.0.0.1"
LOCAL_NAMES = (LOOPBACK, "localhost")
# Our own store and progress lines replace Tune's tables and its TensorBoard/CSV loggers (JSON is kept for
# Tune's ResultGrid); the snapshot at every checkpoint is wanted for resume, so its warning is silenced.
QUIET_TUNE = {
    "TUNE_DISABLE_AUTO_CALLBACK_LOGGERS": "1",
    "RAY_AIR_NEW_OUTPUT": "0",
    "TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S": "0",
}


class _WithoutTokenNotice(logging.Filter):
    """Drops Ray's notice that token authentication is on, which it prints for every new local cluster."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Token authentication is enabled for this Ray cluster")


def keep_loopback() -> None:
    """Make Ray keep 127.0.0.1 as a node's address when it is given one.

    Ray rewrites a loopback node address to the machine's network address (``resolve_ip_for_localhost``), so
    its servers would bind every interface. Its processes bind to 127.0.0.1 only when the node address is exactly
    that string, and they take it from the process that starts the node, so this patch in that process is enough.
    """
    import ray._private.services as services

    resolve = services.resolve_ip_for_localhost
    if getattr(resolve, "keeps_loopback", False):
        return

    def resolve_keeping_loopback(host: str) -> str:
        return LOOPBACK if host in LOCAL_NAMES else resolve(host)

    resolve_keeping_loopback.keeps_loopback = True  # type: ignore[attr-defined]
    services.resolve_ip_for_localhost = resolve_keeping_loopback


def connect(address: str | None, num_cpus: int | None = None, prestart_workers: bool = False) -> str:
    """Join the Ray cluster at ``address`` (else ``RAY_ADDRESS``), or start a local one; returns the address
    joined, or "local".

    The local Ray gets ``num_cpus`` (default: this machine's CPUs), no dashboard and listens on 127.0.0.1 only.
    ``prestart_workers`` keeps Ray's idle workers, which plain Ray tasks (study workers) use; Ray Tune's trial
    actors each carry a runtime env of their own and can never use them, so sweeps leave it off. An address
    that cannot be reached raises ``UsageError``.
    """
    import ray

    for key, value in QUIET_TUNE.items():
        os.environ.setdefault(key, value)
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        try:
            ray.init(address=address, logging_level=logging.WARNING, log_to_driver=False)
        except (ConnectionError, RuntimeError, ValueError) as error:
            raise UsageError(f"--address {address}: cannot reach a Ray cluster ({error}); check the address") from None
        return address
    if not prestart_workers:
        os.environ.setdefault("RAY_prestart_worker_first_driver", "0")
    # Ray makes a token for a new local cluster when RAY_AUTH_MODE is unset; only the notice is left out here (a
    # cluster joined by address keeps every warning of Ray's).
    logging.getLogger("ray._private.authentication.authentication_token_setup").addFilter(_WithoutTokenNotice())
    keep_loopback()
    ray.init(address="local", num_cpus=num_cpus or os.cpu_count(), include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=False, _node_ip_address=LOOPBACK)
    return "local"
