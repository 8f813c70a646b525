"""Where the partitions of a store are evaluated: in this process, or on a Dask cluster.

Complete-count estimation is partition-and-reduce: every partition of a store gives the sums of
its finest cells (a few megabytes), which are added and finished once
(:func:`migdata.indicators.evaluate.partial` and ``finish``). An *engine* runs the per-partition
step and hands the results back in partition order; everything else is the same code whatever
the engine, so the numbers are identical.

- ``"local"`` (the default): in this process, two partitions at a time on two threads (numpy,
  pandas and Arrow release the interpreter lock in their array work; measured 1.2-1.3x faster
  than one after the other on the 2-core machine). Memory holds two partitions at a time (a
  province: at most about 5 M persons), so a 24 GB machine evaluates the whole country; nothing
  to install or start.
- ``"dask"``: on a `Dask distributed <https://distributed.dask.org>`_ cluster
  (``pip install 'migdata[distributed]'``). Pass a ``dask.distributed.Client``, the address of a
  running scheduler (``"tcp://10.0.0.5:8786"``), or ``"dask"`` for a local cluster of this
  machine's cores. Each worker reads its partitions from the store itself, so the store must be
  on a file system every worker sees (a shared drive, NFS, or a copy per machine).

**Why Dask distributed** (and not Apache Spark or Ray): the users are statisticians of LGUs,
PSA regional offices and DEPDev on Python-only machines. Dask is pure Python, installs with pip
in seconds (no JVM, unlike Spark; no large native runtime, unlike Ray), runs the same pandas and
numpy code on the workers (the partition step is plain migdata code, shipped as a function call
with the store path and the partition key), starts a local cluster with one line, and reaches a
real cluster with ``dask-scheduler``/``dask-worker`` on each machine or any of its deployment
packages (SSH, Kubernetes, HPC job queues). Spark would need a JVM on every machine and the
partition step rewritten against its DataFrame API or run through Python UDFs; Ray's strength is
actors and ML pipelines, which this map-and-reduce does not use. The reduction itself is small
(cell sums) and runs in the calling process.

Example:
    >>> get_engine(None).name
    'local'
    >>> get_engine("local").map(lambda x: x * 2, [1, 2, 3])
    [2, 4, 6]
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, Sequence

from migdata.errors import UsageError

#: ``progress(message, done, total)`` (:mod:`migdata.progress`): called after each partition.
Progress = Callable[..., None]


class LocalEngine:
    """Runs the tasks in this process on ``threads`` threads (the default engine)."""

    name = "local"

    def __init__(self, threads: int | None = None) -> None:
        import os

        self.threads = max(1, threads if threads is not None else min(2, os.cpu_count() or 1))

    def map(self, fn: Callable[..., Any], items: Iterable[Any], *args: Any) -> list[Any]:
        return [fn(x, *args) for x in items]

    def map_partitions(self, task: Callable[..., Any], store: Any, plan: Any,
                       progress: Progress | None = None) -> list[Any]:
        """``task(store, partition, plan)`` for every partition of ``store``; results in
        partition order (largest partitions started first, so the threads finish together).
        A thread with no partition left to start computes blocks of the partitions still
        running (:func:`migdata._kernels.parallel.help_others`)."""
        from concurrent.futures import ThreadPoolExecutor, as_completed

        from migdata._kernels.parallel import help_others

        parts = list(store.partitions)
        out: list[Any] = [None] * len(parts)
        order = sorted(range(len(parts)), key=lambda i: -sum(parts[i].rows.values()))
        with ThreadPoolExecutor(self.threads) as pool:
            futures = {pool.submit(task, store, parts[i], plan): i for i in order}
            # started (first in, first out) as the threads run out of partitions
            for _ in range(self.threads - 1):
                pool.submit(help_others, lambda: all(f.done() for f in futures))
            for done, fut in enumerate(as_completed(futures), start=1):
                out[futures[fut]] = fut.result()
                if progress is not None:
                    progress("partitions", done, len(parts))
        return out


class DaskEngine:
    """Runs each partition as a task on a Dask distributed cluster (see the module docstring).

    ``client``: a ``dask.distributed.Client``; ``address``: a scheduler address; neither: a
    ``LocalCluster`` of ``n_workers`` processes, started on first use and closed by
    :meth:`close`."""

    name = "dask"

    def __init__(self, client: Any = None, address: str | None = None, n_workers: int | None = None,
                 threads_per_worker: int = 1) -> None:
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise UsageError("MD730") from None
        self._own: list[Any] = []
        if client is None:
            if address:
                try:
                    client = Client(address, timeout="20s")
                except OSError as exc:
                    raise UsageError("MD731", address=address, detail=str(exc)) from None
                self._own = [client]  # our connection (closed by close), not the cluster
            else:
                cluster = LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker,
                                       processes=True, dashboard_address=None)
                client = Client(cluster)
                self._own = [client, cluster]
        self.client = client

    @property
    def workers(self) -> int:
        return len(self.client.scheduler_info().get("workers", {}))

    def map(self, fn: Callable[..., Any], items: Sequence[Any], *args: Any) -> list[Any]:
        futures = [self.client.submit(fn, x, *args, pure=False) for x in items]
        return self.client.gather(futures)

    def map_partitions(self, task: Callable[..., Any], store: Any, plan: Any,
                       progress: Progress | None = None) -> list[Any]:
        """``task(store folder, partition, plan)`` for every partition, on the cluster's workers
        (largest partitions first, so that no worker is left with a big one at the end);
        results in partition order."""
        from dask.distributed import as_completed

        parts = list(store.partitions)
        path = str(store.path.resolve())
        plan_f = self.client.scatter(plan, broadcast=True)
        order = sorted(range(len(parts)), key=lambda i: -sum(parts[i].rows.values()))
        futures = {self.client.submit(task, path, parts[i], plan_f, pure=False, key=f"migdata-partition-{i}-{id(plan)}"): i
                   for i in order}
        out: list[Any] = [None] * len(parts)
        for done, fut in enumerate(as_completed(futures), start=1):
            i = futures[fut]
            out[i] = fut.result()
            if progress is not None:
                progress("partitions", done, len(parts))
        return out

    def close(self) -> None:
        for obj in self._own:
            obj.close()
        self._own = []


def get_engine(engine: Any = None) -> Any:
    """The engine named by ``engine``: None or ``"local"``: :class:`LocalEngine`; ``"dask"``: a
    local Dask cluster; ``"dask://HOST:PORT"`` or ``"tcp://HOST:PORT"``: the Dask scheduler at
    that address; a ``dask.distributed.Client``: that client; an engine object: itself."""
    if engine is None or engine == "local":
        return LocalEngine()
    if hasattr(engine, "map_partitions"):
        return engine
    if isinstance(engine, str):
        if engine == "dask":
            return DaskEngine()
        if engine.startswith(("dask://", "tcp://", "tls://")):
            return DaskEngine(address=engine.replace("dask://", "tcp://", 1))
        raise UsageError("MD732", value=engine)
    if type(engine).__name__ == "Client":
        return DaskEngine(client=engine)
    raise UsageError("MD732", value=repr(engine))
