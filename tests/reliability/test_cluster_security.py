"""A Dask cluster started by `vo run --workers N` serves only the run: TLS with a per-run certificate, no dashboard."""

from __future__ import annotations

import asyncio
import contextlib
import time
from concurrent.futures import ThreadPoolExecutor
import urllib.error
import urllib.request

import psutil
import pytest

from tests.reliability.harness import TALLY, assert_nothing_lost, start_vo

pytest.importorskip("distributed")


def _listeners(pid: int) -> dict[int, list[tuple[str, int]]]:
    """TCP ports listened on by a process and its descendants (scheduler, nannies, workers), by process."""
    found: dict[int, list[tuple[str, int]]] = {}
    try:
        tree = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return found
    for process in tree:
        with contextlib.suppress(psutil.Error):
            ports = [(c.laddr.ip, c.laddr.port) for c in process.net_connections(kind="inet")
                     if c.status == psutil.CONN_LISTEN]
            if ports:
                found[process.pid] = ports
    return found


async def _answers(address: str, **connection_args) -> str | None:
    """What a Dask peer at ``address`` answers to an ``identity`` request, or None when it refuses us."""
    from distributed.comm import connect

    try:
        # connect's own timeout does not bound a handshake with an HTTP port: bound everything here.
        comm = await asyncio.wait_for(connect(address, timeout=1, **connection_args), 3)
    except Exception:  # noqa: BLE001 - any refusal will do
        return None
    try:
        await asyncio.wait_for(comm.write({"op": "identity"}), 2)
        return repr(await asyncio.wait_for(comm.read(), 2))[:80]
    except Exception:  # noqa: BLE001 - no answer
        return None
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(comm.close(), 2)


def _http_status(host: str, port: int) -> int | None:
    # Any page a dashboard (or its JSON and info routes) would serve to anyone on the machine.
    for path in ("/health", "/info/main/workers.html", "/json/identity.json", "/status"):
        try:
            with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=1) as answer:
                return answer.status
        except urllib.error.HTTPError:
            continue  # 404: nothing served at this path
        except Exception:  # noqa: BLE001 - not HTTP at all (a TLS port), or closed
            return None
    return None


def test_the_local_cluster_of_a_run_refuses_other_processes_and_the_run_ends_as_one_process(
        reference, module_database, tmp_path):
    from distributed.security import Security

    config, data, url = reference["config"], tmp_path / "data", module_database()
    # Slow downloads keep the cluster up while another process (this test) knocks at every port.
    process = start_vo("run", str(config), "--workers", "2", "--download-threads", "1",
                       "--set", "observatories.demo.download.latency=0.3", data=data, url=url)
    try:
        deadline = time.monotonic() + 90
        listening = _listeners(process.pid)
        # The run's process (scheduler and nannies) and its two workers, each with its ports open.
        while len(listening) < 3 and time.monotonic() < deadline:
            assert process.poll() is None, f"the run ended before its cluster was probed: {process.stderr.read()}"
            time.sleep(0.2)
            listening = _listeners(process.pid)
        assert len(listening) >= 3, listening
        ports = sorted({address for addresses in listening.values() for address in addresses})
        probing = time.monotonic()
        foreign = Security.temporary().get_connection_args("client")  # a valid certificate, of another CA
        assert all(host == "127.0.0.1" for host, _ in ports), f"the cluster listens beyond this machine: {ports}"
        # Every port at once (a refused TLS handshake can take the whole timeout), while the run goes on.
        knocks = [(f"{scheme}://{host}:{port}", args) for host, port in ports
                  for scheme, args in (("tcp", {}), ("tls", foreign))]

        async def knock_all():
            return await asyncio.gather(*(_answers(address, **args) for address, args in knocks))

        with ThreadPoolExecutor(len(ports)) as pool:
            pages = pool.map(lambda address: _http_status(*address), ports)
            answers = asyncio.run(knock_all())
            statuses = list(pages)
        accepted = {address: answer for (address, _), answer in zip(knocks, answers) if answer is not None}
        accepted.update({f"http://{host}:{port}": f"HTTP {status}" for (host, port), status in zip(ports, statuses)
                         if status is not None})
        probed = time.monotonic() - probing
        assert process.poll() is None, f"the run ended while it was probed ({probed:.1f} s): this test proved nothing"
        assert accepted == {}, f"the run's cluster served another process: {accepted}"
        TALLY["cluster: connections without the run's certificate refused"] += 2 * len(ports)
        _, stderr = process.communicate(timeout=300)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, stderr
    assert_nothing_lost(reference["snapshot"], config, data, url, "a run on 2 Dask workers")
