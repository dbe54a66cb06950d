"""notebooks/understanding-lstm-networks.ipynb runs from top to bottom, and shows what it says."""

import re
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "understanding-lstm-networks.ipynb"


def test_the_walk_through_notebook_runs_and_shows_figures_formulas_and_a_depth_unit():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    data = [o.get("data", {}) for o in outputs]
    svgs = [d["image/svg+xml"] for d in data if "image/svg+xml" in d]
    assert len(svgs) >= 9  # loop, chain, module, four steps, two variants
    formulas = "\n".join(d["text/markdown"] for d in data if "text/markdown" in d)
    for delta in (r"\delta f_t", r"\delta i_t", r"\delta c_{t-1} = \delta c_t \cdot f_t",
                  r"\delta o_t"):
        assert delta in formulas
    pages = [d["text/html"] for d in data if "text/html" in d]
    ranking = next(p for p in pages if "nesting depth" in p)
    best = float(re.findall(r"<td>([+-][0-9.]+)</td>", ranking)[0])
    assert abs(best) > 0.9
    assert any("background:rgba" in p for p in pages)  # the coloured text
    assert any("sum to the full gradient" in p for p in pages)
    assert any("Lyapunov" in p for p in pages)
