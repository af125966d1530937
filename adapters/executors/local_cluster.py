"""The local Dask cluster of one run: TLS with a certificate made for the run, loopback only, no dashboard unless asked."""

from __future__ import annotations

import copy
import logging

__all__ = ["start_local_cluster", "warn_if_insecure"]

log = logging.getLogger(__name__)


def start_local_cluster(workers: int, dashboard: str | None = None):
    """Start ``workers`` single-threaded worker processes that only this run can use.

    A Dask peer runs whatever pickled function it is sent, so a plain ``tcp://``
    cluster lets any process on the machine run code as this user. Here every
    listener (scheduler, nannies, workers) speaks TLS and requires a client
    certificate signed by a key made for this run in memory
    (``Security.temporary()``); no other process has it, so none can connect.
    Everything listens on 127.0.0.1. The scheduler's and workers' HTTP servers
    (which distributed always starts) serve nothing unless ``dashboard`` is
    given: then the scheduler's dashboard listens there, read-only but visible
    to every user of the machine.

    Parameters
    ----------
    workers : int
        Number of worker processes.
    dashboard : str, optional
        Address of the dashboard (e.g. ``127.0.0.1:8787``); None: no dashboard.

    Returns
    -------
    tuple
        The ``distributed.LocalCluster`` and its ``distributed.security.Security``
        (a client needs it to connect).
    """
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    security = Security.temporary()  # a fresh key and self-signed certificate, never written to disk
    settings = {
        # The workers' statistical profiler samples the task thread every 10 ms, taking the GIL
        # from it: measured 12 % of a batch's time. Nannies hand this configuration to workers.
        "distributed.worker.profile.enabled": False,
        # Nannies also set MALLOC_TRIM_THRESHOLD_=65536 in workers, which turns off glibc's
        # adaptive mmap threshold: every array over 128 KiB is then mapped and unmapped anew,
        # measured 1.25x the time of a batch (also in one process given that variable).
        # None leaves the variable unset.
        "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    }
    scheduler_kwargs = {}
    if dashboard is None:
        # The HTTP servers start anyway (the scheduler's on 8787 by default, with JSON and info pages
        # about the run for anyone who asks): on a random loopback port, without a single page.
        settings.update({"distributed.scheduler.http.routes": [], "distributed.worker.http.routes": []})
        scheduler_kwargs["dashboard_address"] = "127.0.0.1:0"
    with dask.config.set(settings):
        # A frozen copy for the nannies: they keep dask's configuration by reference, so a worker
        # restarted after this block (one that died) would otherwise profile again.
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, host="127.0.0.1",
                               protocol="tls://", security=security, dashboard_address=dashboard,
                               scheduler_kwargs=scheduler_kwargs, config=copy.deepcopy(dask.config.config))
    if dashboard is not None:
        log.warning("the Dask dashboard of this run is at %s: read-only, but every user of this machine can "
                    "see it", cluster.dashboard_link)
    return cluster, security


def warn_if_insecure(address: str) -> None:
    """Warn when a scheduler address is not TLS: anyone who reaches it can run code as its workers' user.

    Parameters
    ----------
    address : str
        The ``--scheduler`` address.
    """
    if not address.startswith("tls://"):
        log.warning("the Dask scheduler %s is not TLS: any process that reaches it can run code on its workers "
                    "(see the README, 'Running on an existing Dask cluster, securely')", address)
