"""BLAS threads: the recurrent matrices are tiny, so one thread per process is fastest."""

import os

THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_thread_blas() -> None:
    """Run BLAS single-threaded unless the user chose otherwise.

    Applies to this process when NumPy is not loaded yet, and to every process it starts
    (the experiment's workers): OpenBLAS threads cost more than they give on these sizes,
    and on a busy 2-core machine a training step was over 10x slower with them.
    """
    for var in THREAD_VARIABLES:
        os.environ.setdefault(var, "1")
