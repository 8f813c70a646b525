"""Progress of a notebook run: papermill's executed cells told to a migdata progress callback.

A report is a notebook run by papermill, which counts executed cells on a tqdm bar of its own
(written to the terminal whatever the caller wants). :class:`CellCount` stands in for that bar
and passes ``(message, cells done, cells)`` to a :mod:`migdata.progress` callback instead, so a
report shows the command line's bar with the time left in a terminal, plain lines elsewhere,
and whatever a notebook's own callback draws. :func:`engine_name` registers, once, a papermill
engine (nbclient's, unchanged but for the counter) that accepts ``cell_progress``.

Example:
    >>> got = []
    >>> count = CellCount(got.append, "running x.ipynb", 4)
    >>> for _ in range(4):
    ...     count.update(1)
    >>> count.close()
    >>> got
    ['running x.ipynb: 20 %', 'running x.ipynb: 50 %', 'running x.ipynb: 70 %', 'running x.ipynb: 100 %']
"""

from __future__ import annotations

from typing import Any

from migdata.progress import Progress, as_progress

ENGINE = "migdata-cells"


class CellCount:
    """What papermill's execution manager calls on its bar (``update``, ``set_description``,
    ``close``), told to ``progress`` as ``(message, done, total)`` cells."""

    def __init__(self, progress: Progress | None, message: str, total: int) -> None:
        self.say = as_progress(progress)
        self.message, self.total, self.done = message, total, 0
        self.say(message, 0, total)

    def update(self, n: int = 1) -> None:
        self.done = min(self.done + n, self.total)
        self.say(self.message, self.done, self.total)

    def set_description(self, _: str) -> None:
        return None          # papermill's cell descriptions: the message stays one step

    def close(self) -> None:
        if self.done < self.total:      # a failed cell: the step still ends
            self.say(self.message, self.total, self.total)
            self.done = self.total


def engine_name() -> str:
    """The name of the counting engine, registered with papermill on first use."""
    from papermill.engines import NBClientEngine, NotebookExecutionManager, papermill_engines

    if ENGINE in papermill_engines._engines:
        return ENGINE

    class CountingEngine(NBClientEngine):
        """nbclient's engine with its cell bar replaced by :class:`CellCount`; papermill's
        ``Engine.execute_notebook`` otherwise (it builds the bar itself, with no hook)."""

        @classmethod
        def execute_notebook(cls, nb: Any, kernel_name: str, output_path: Any = None,
                             progress_bar: bool = False, log_output: bool = False,
                             autosave_cell_every: int = 30, cell_progress: Progress | None = None,
                             cell_message: str = "running the notebook", **kwargs: Any) -> Any:
            nb_man = NotebookExecutionManager(nb, output_path=output_path, progress_bar=False,
                                              log_output=log_output, autosave_cell_every=autosave_cell_every)
            nb_man.pbar = CellCount(cell_progress, cell_message, len(nb.cells))
            nb_man.notebook_start()
            try:
                cls.execute_managed_notebook(nb_man, kernel_name, log_output=log_output, **kwargs)
            finally:
                nb_man.cleanup_pbar()
                nb_man.notebook_complete()
            return nb_man.nb

    papermill_engines.register(ENGINE, CountingEngine)
    return ENGINE


__all__ = ["CellCount", "engine_name"]
