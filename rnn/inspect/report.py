"""Gradient flow of a model of tokens over a stretch of text, measured and written out:
connectivity, per-step contributions and the Jacobian chain, as arrays and as plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rnn.data import DataError
from rnn.inspect.gradients import Connectivity, Contributions, connectivity, contributions
from rnn.inspect.jacobians import JacobianChain, jacobian_chain
from rnn.io import replacing
from rnn.plots import plot_connectivity, plot_contributions, plot_jacobian_spectra

GRADIENT_FILES = ("gradients.npz", "connectivity.png", "contributions.png", "jacobian.png")


@dataclass
class GradientFlow:
    """The three measurements over `text`, the tokens read: characters (a str), the loss
    predicting each next one; or words (a tuple), the loss naming the answer at the last."""

    text: str | tuple[str, ...]
    connectivity: Connectivity
    contributions: Contributions
    chain: JacobianChain

    @property
    def token_name(self) -> str:
        return "character" if isinstance(self.text, str) else "word"

    def arrays(self) -> dict[str, np.ndarray]:
        """What `gradients.npz` holds: the text, `connectivity` (T, T) and `by_lag`,
        `contrib/<weight>` (T, *shape) with `contrib_norms` (weights, T) and `full/<weight>`,
        `jacobians` (T, S, S), `log_singular_values` (T, S) and `lyapunov` (S,). The
        tokens read are `text` (code points) or `words` (strings)."""
        read = ({"text": np.array([ord(c) for c in self.text], dtype=np.uint32)}
                if isinstance(self.text, str) else {"words": np.array(self.text, dtype=str)})
        out = {**read, "connectivity": self.connectivity.matrix,
               "connectivity_by_lag": self.connectivity.by_lag(),
               "contrib_names": np.array(self.contributions.names),
               "contrib_norms": self.contributions.norms(),
               "jacobians": self.chain.jacobians,
               "log_singular_values": self.chain.log_singular_values(),
               "lyapunov": self.chain.lyapunov()}
        for name in self.contributions.names:
            out[f"contrib/{name}"] = self.contributions.per_step[name]
            out[f"full/{name}"] = self.contributions.full[name]
        return out

    def summary(self) -> list[str]:
        """A few lines of what was measured."""
        M = self.connectivity.matrix
        T = len(M)
        lam = self.chain.lyapunov()
        logs = self.chain.log_singular_values()
        start = self.text[:30] if isinstance(self.text, str) else " ".join(self.text[:8])
        token = self.token_name
        return [
            f"gradient flow over {T} {token}s {start!r}...:",
            f"  connectivity ||dh_t/dx_s||: {np.mean(np.diag(M)):.3g} at lag 0 (mean), "
            f"{M[-1, 0]:.3g} from the first to the last {token}",
            f"  per-step contributions sum to the gradient within "
            f"{self.contributions.max_sum_error():.1e} (loss {self.contributions.loss:.4f})",
            f"  state Jacobian: largest singular value of ds_T/ds_(T-k) "
            f"{np.exp(logs[0, 0]):.3g} at k = 1, {np.exp(logs[-1, 0]):.3g} at k = {T}; "
            f"Lyapunov exponents {lam[0]:+.3f} .. {lam[-1]:+.3f} per step",
        ]


def gradient_flow(model, vocab, text, answer: int | None = None) -> GradientFlow:
    """Measure the gradient flow of a model of tokens over `text`. A character model (no
    `answer`; at least 2 characters): each of text[:-1] is read, the loss is the
    cross-entropy of the next one. A model that names a class (the born-in model): every
    token of `text` (words, or characters) is read, the loss is the cross-entropy of class
    `answer` at the last one."""
    if answer is None:
        if len(text) < 2:
            raise DataError("gradient flow needs at least 2 characters of text")
        ids = vocab.encode(text)
        read, ids, targets = text[:-1], ids[:-1], ids[1:]
    else:
        if len(text) < 1:
            raise DataError("gradient flow needs at least 1 token of text")
        read = text if isinstance(text, str) else tuple(text)
        ids, targets = vocab.encode(read), answer
    return GradientFlow(read, connectivity(model, ids, read), contributions(model, ids, targets),
                        jacobian_chain(model, ids))


def write_gradient_flow(flow: GradientFlow, folder) -> list[tuple[str, str]]:
    """Write GRADIENT_FILES into `folder` (which exists); returns (file, caption) pairs for
    the page."""
    folder = Path(folder)
    with replacing(folder / "gradients.npz", "gradients") as tmp, open(tmp, "wb") as f:
        np.savez(f, **flow.arrays())
    T, token = len(flow.text), flow.token_name
    plot_connectivity(flow.connectivity.matrix, folder / "connectivity.png", flow.text,
                      f"connectivity log10 ||∂h_t/∂x_s|| over {T} {token}s")
    plot_contributions(flow.contributions.norms(), flow.contributions.names,
                       folder / "contributions.png", flow.text,
                       "each step's contribution to ∂L/∂W (they sum to the gradient)", token)
    plot_jacobian_spectra({flow.chain.cell: flow.chain}, folder / "jacobian.png",
                          f"the state Jacobian along {T} {token}s")
    return [("connectivity.png", f"Connectivity: how strongly each {token} read (across) "
             "moves the last layer's h_t (down), ||∂h_t/∂x_s||, measured exactly."),
            ("contributions.png", "Per-step contributions to each recurrent weight's "
             "gradient (RNNbow): they sum to the full gradient."),
            ("jacobian.png", "Singular values of ∂s_T/∂s_(T−k) for the whole state s "
             "and the Lyapunov exponents (repeated QR).")]
