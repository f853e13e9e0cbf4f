"""docs/notebooks/explore.ipynb: committed executed, and it still runs and prints what is committed.

The docs site renders the notebook as committed (mkdocs-jupyter with ``execute: false``), so the
committed copy must be an executed one, and executing it again must print the same thing: otherwise
the site shows outputs the code no longer produces. The notebook prints no ports, uuids or times, so
its outputs are the same on every run.

The kernel is ipykernel's own ``python3`` spec, whose argv is this interpreter (``sys.executable``,
the venv's python), with an empty kernelspec search path: a ``python3`` kernelspec in the user's or
the system's Jupyter folders (which jupyter_client would otherwise prefer) cannot swap in another
Python. ``IPYTHONDIR`` points into a temporary folder, so no IPython profile of the user runs. (This
is why the notebook is not run by nbmake: it looks the kernel up by name, user folders first.)

Re-execute the notebook after changing it, in the same kernel and writing it in place:
``.venv/bin/python tests/docs/test_notebook.py``
"""

import os
import sys
import tempfile
from pathlib import Path

import nbformat
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parents[2] / "docs" / "notebooks" / "explore.ipynb"
RERUN = "re-execute it: .venv/bin/python tests/docs/test_notebook.py"


def execute(nb, ipython_dir):
    """Run every cell of ``nb`` in a fresh kernel of this interpreter; the outputs land in ``nb``."""
    specs = KernelSpecManager(kernel_dirs=[])  # only ipykernel's built-in python3 spec (module docs)
    kernel = AsyncKernelManager(kernel_name="python3", kernel_spec_manager=specs)  # as nbclient makes
    assert kernel.kernel_spec is not None
    assert kernel.kernel_spec.argv[0] == sys.executable
    client = NotebookClient(
        nb,
        km=kernel,
        timeout=120,
        startup_timeout=60,
        allow_errors=True,  # every failing cell is reported by _problems, not only the first
        record_timing=False,  # no timestamps in the committed cells' metadata
        resources={"metadata": {"path": str(NOTEBOOK.parent)}},
    )
    # cleanup_kc: shut the kernel down and close its sockets, which nbclient leaves open for a given km
    client.execute(cleanup_kc=True, env={**os.environ, "IPYTHONDIR": str(ipython_dir)})


def _code_cells(nb):
    return [cell for cell in nb.cells if cell.cell_type == "code"]


def _printed(cell):
    """What a cell showed: its streams (however the kernel chunked them) and its results as text."""
    shown: list[tuple[str, str]] = []
    for output in cell.outputs:
        if output.output_type == "stream" and shown and shown[-1][0] == output.name:
            shown[-1] = (output.name, shown[-1][1] + output.text)
        elif output.output_type == "stream":
            shown.append((output.name, output.text))
        elif output.output_type in {"execute_result", "display_data"}:
            shown.append(("result", output.data.get("text/plain", "")))
        else:
            shown.append((output.output_type, output.get("ename", "")))
    return shown


def _problems(nb):
    """Cells that failed or wrote to stderr (the site would show either)."""
    return [
        (cell.execution_count, output.get("ename") or output.get("text", ""))
        for cell in _code_cells(nb)
        for output in cell.outputs
        if output.output_type == "error" or (output.output_type == "stream" and output.name == "stderr")
    ]


def test_committed_notebook_is_executed():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    cells = _code_cells(nb)
    # one run, top to bottom, in a fresh kernel: counts 1..n with no gap, no cell left unexecuted
    assert [cell.execution_count for cell in cells] == list(range(1, len(cells) + 1)), RERUN
    printing = [cell for cell in cells if any(line.startswith("print(") for line in cell.source.splitlines())]
    silent = [cell.execution_count for cell in printing if not cell.outputs]
    assert not silent, f"cells that print but show no output: {silent}; {RERUN}"
    assert not _problems(nb), RERUN


def test_notebook_runs_and_prints_what_is_committed(tmp_path):
    committed = nbformat.read(NOTEBOOK, as_version=4)
    nb = nbformat.read(NOTEBOOK, as_version=4)
    execute(nb, tmp_path / "ipython")
    assert not _problems(nb)
    pairs = zip(_code_cells(nb), _code_cells(committed), strict=True)
    for number, (ran, stored) in enumerate(pairs, start=1):
        assert _printed(ran) == _printed(stored), f"code cell {number} prints otherwise; {RERUN}"


if __name__ == "__main__":  # re-execute the notebook in place (see the module docs)
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as ipython:
        execute(notebook, Path(ipython))
    nbformat.write(notebook, NOTEBOOK)
    problems = _problems(notebook)
    sys.exit(f"cells with errors or stderr: {problems}" if problems else 0)
