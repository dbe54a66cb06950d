"""`rnn-lab train`: train a recurrent network on a synthetic task or a text file."""

from __future__ import annotations

import argparse
import os
import sys

from rnn.argtypes import (
    CELL_CHOICES,
    INIT_CHOICES,
    file_name,
    file_with_suffix,
    fraction,
    int_between,
    memory_size,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    seed,
)
from rnn.blas import single_thread_blas
from rnn.errors import UsageError, UserError
from rnn.interrupts import exit_status, signal_name
from rnn.io import output_target
from rnn.resources import ENV as MEMORY_ENV

EXAMPLE = """\
examples:
  rnn-lab train --task adding --cell lstm --seq-len 50 --steps 2000 --plot adding.png
  rnn-lab train --task adding --cell irnn --seq-len 100 --lr 1e-4   (identity init)
  rnn-lab train --task copy --cell lstm --init chrono --seq-len 100  (T_max = 120)
  rnn-lab train --task reber --cell gru --init chrono --init-tmax 20
  rnn-lab train --task text --text input.txt --cell lstm --hidden 128 --steps 5000 \\
      --checkpoint shakespeare.npz
  rnn-lab train --task text --text input.txt --checkpoint shakespeare.npz --resume --steps 8000
  rnn-lab sample shakespeare.npz --prime "ROMEO:" --temperature 0.8 --length 300
  rnn-lab train --engine torch --nproc 2 --task text --text input.txt --hidden 512

Ctrl-C saves a checkpoint and exits with status 130 (SIGTERM: 143); resume with --resume.
A new run never replaces an existing checkpoint unless --force is given. Sizes whose memory
estimate exceeds the limit (--max-memory, default half the RAM) are refused before training.
"""
MAX_LAYERS = 100  # as rnn.training.config.MAX_LAYERS; spelled out so --help imports nothing
PLOT_SUFFIXES = (".png", ".pdf", ".svg")

# Options whose value, when given with --resume, must agree with the checkpoint.
_CONFIG_OPTIONS = ("task", "cell", "hidden", "layers", "seq_len", "batch", "lr", "optimizer",
                   "momentum", "clip", "seed", "dtype", "val_every", "embedding", "fused",
                   "compile", "init", "t_max")
_FLAGS = {"t_max": "--init-tmax"}  # options whose flag is not the field's name


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "train", help="train an RNN/LSTM/GRU on adding, copy, reber or a text file",
        description="Train a recurrent network with the autograd_lite engine (or PyTorch: "
                    "--engine torch). The run "
                    "(parameters, optimizer, RNG state, loss history, config) is saved to "
                    "--checkpoint at the end and on Ctrl-C.",
        epilog=EXAMPLE, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--task", choices=("adding", "copy", "reber", "text"), default=None,
                   help="what to learn (default adding)")
    p.add_argument("--cell", choices=CELL_CHOICES, default=None, metavar="CELL",
                   help="recurrent cell, any registered one: rnn, lstm, gru, peephole, cifg, "
                        "mgu, ... (default lstm)")
    p.add_argument("--text", type=file_name, metavar="FILE",
                   help="UTF-8 text file for --task text")
    p.add_argument("--steps", type=positive_int, metavar="N",
                   help="train until step N (default 1000; with --resume, the saved target)")
    p.add_argument("--hidden", type=positive_int, metavar="H", help="hidden units (default 64)")
    p.add_argument("--layers", type=int_between(1, MAX_LAYERS), metavar="L",
                   help=f"stacked layers, 1 to {MAX_LAYERS} (default 1)")
    p.add_argument("--seq-len", type=positive_int, metavar="T",
                   help="sequence length (copy: the delay; default adding 50, copy 20, "
                        "text 64; not for reber: its strings set their own length)")
    p.add_argument("--batch", type=positive_int, metavar="B", help="batch size (default 32)")
    p.add_argument("--lr", type=positive_float, metavar="X", help="learning rate (default 1e-3)")
    p.add_argument("--optimizer", choices=("adam", "sgd"), default=None,
                   help="optimizer (default adam)")
    p.add_argument("--momentum", type=fraction, metavar="X",
                   help="SGD momentum, from 0 up to 1 (default 0; only with --optimizer sgd)")
    p.add_argument("--clip", type=non_negative_float, metavar="X",
                   help="clip gradients to this global norm; 0 turns it off (default 1.0)")
    p.add_argument("--seed", type=seed, metavar="S",
                   help="random seed, 0 to 2**63 - 1 (default 0)")
    p.add_argument("--dtype", choices=("float32", "float64"), default=None,
                   help="parameter dtype (default float64)")
    p.add_argument("--val-every", type=positive_int, metavar="N",
                   help="validate every N steps (default 100)")
    p.add_argument("--embedding", type=non_negative_int, metavar="E",
                   help="learned embedding size for tokens (copy, reber, text); 0 = one-hot "
                        "(default 0)")
    p.add_argument("--init", choices=INIT_CHOICES, default=None, metavar="INIT",
                   help="initialisation: uniform (PyTorch's U(+-1/sqrt(H))), orthogonal "
                        "recurrent weights (Saxe et al. 2014), identity (the IRNN of Le et al. "
                        "2015: plain RNN cells), chrono (Tallec & Ollivier 2018: gate biases "
                        "log U[1, T_max - 1], for cells with a forget or update gate); default: "
                        "the cell's own (identity for irnn, uniform for the others)")
    p.add_argument("--init-tmax", dest="t_max", type=positive_int, metavar="T",
                   help="with --init chrono: T_max, the longest dependency expected, >= 3 "
                        "(default: the task's sequence length: adding T, copy T + 20, text "
                        "--seq-len; reber needs it given)")
    p.add_argument("--fused", action=argparse.BooleanOptionalAction, default=None,
                   help="run a cell's fused kernel where it has one (default); --no-fused "
                        "trains on the readable graph, every gate a node")
    p.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                   help="run each training step as a compiled NumPy program "
                        "(autograd_lite.compile); default: on for the readable graph when "
                        "batches keep their shapes (not reber), off for a fused kernel")
    p.add_argument("--checkpoint", type=file_name, metavar="PATH",
                   help="checkpoint file (default ./<task>-<cell>.npz)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run saved in --checkpoint (a text run needs --text too: "
                        "the same file, checked by its sha256)")
    p.add_argument("--force", action="store_true",
                   help="let a new run replace an existing --checkpoint file")
    p.add_argument("--save-every", type=non_negative_int, default=0, metavar="N",
                   help="also save every N steps (default: only at the end and on Ctrl-C)")
    p.add_argument("--plot", type=file_with_suffix(*PLOT_SUFFIXES), metavar="FILE",
                   help="write the loss history plot to FILE (.png, .pdf or .svg)")
    p.add_argument("--max-memory", type=memory_size, metavar="SIZE",
                   help=f"refuse sizes whose memory estimate exceeds SIZE, e.g. 8GB (default: "
                        f"${MEMORY_ENV}, else half the RAM)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--engine", choices=("numpy", "torch"), default="numpy",
                   help="numpy: the autograd_lite engine (default); torch: PyTorch, the same "
                        "job and checkpoints (pip install 'rnn-lab[torch]')")
    p.add_argument("--device", choices=("cpu", "cuda"), default=None,
                   help="with --engine torch: where to train (default cpu)")
    p.add_argument("--nproc", type=positive_int, default=None, metavar="N",
                   help="with --engine torch: N processes with DistributedDataParallel, each "
                        "on its share of every batch (default 1; across machines use torchrun)")
    p.set_defaults(func=run)


def _config_from_args(args):
    from rnn.training import TrainConfig

    given = {name: getattr(args, name) for name in (*_CONFIG_OPTIONS, "steps", "text")
             if getattr(args, name) is not None}
    return TrainConfig(**given)


def _check_flags(args) -> None:
    """UsageError for options that cannot go together or would do nothing."""
    if args.engine != "torch" and (args.device is not None or args.nproc is not None):
        raise UsageError("--device and --nproc need --engine torch")
    if args.t_max is not None and args.init != "chrono":
        raise UsageError("--init-tmax is for --init chrono (the other inits have no T_max)")
    if args.engine == "torch" and args.compile:
        raise UsageError("--compile is for the numpy engine (autograd_lite.compile); "
                         "--engine torch runs PyTorch's own")
    if args.resume:
        if not args.checkpoint:
            raise UsageError("--resume needs --checkpoint PATH (the run to continue)")
        if args.force:
            raise UsageError("--force is for a new run that replaces a checkpoint; --resume "
                             "continues and updates it")
        return  # the other options are checked against the checkpoint's
    task = args.task or "adding"
    if task == "text" and args.text is None:
        raise UsageError("--task text needs --text FILE (a UTF-8 text file)")
    if task != "text" and args.text is not None:
        raise UsageError(f"--text is only for --task text (the task is {task})")
    if args.momentum and (args.optimizer or "adam") != "sgd":
        raise UsageError(f"--momentum is for --optimizer sgd; "
                         f"{args.optimizer or 'adam'} keeps its own moment estimates")
    if args.embedding and task == "adding":
        raise UsageError("--embedding is for tasks with tokens (copy, reber, text); the "
                         "adding problem's inputs are numbers")
    if args.seq_len == 1 and task == "adding":
        raise UsageError("--seq-len must be at least 2 for the adding problem (two marked "
                         "numbers)")
    if args.seq_len is not None and task == "reber":
        raise UsageError("--seq-len does not apply to --task reber: each Reber string has "
                         "its own length")


def _check_resume_args(args, saved: dict, path: str) -> None:
    from rnn.cells import cell_class

    saved = dict(saved)
    if saved.get("init") is None:
        # (a checkpoint from before --init: it was initialised the cell's default way)
        try:
            saved["init"] = cell_class(saved.get("cell", "lstm")).DEFAULT_INIT
        except ValueError:
            pass  # (an unknown cell: loading the checkpoint reports it)
    for name in _CONFIG_OPTIONS:
        value = getattr(args, name)
        if name == "compile" and saved.get(name) is None:
            continue  # (a checkpoint from before --compile: the run may choose now)
        if value is not None and saved.get(name) != value:
            flag = _FLAGS.get(name, "--" + name.replace("_", "-"))
            if isinstance(value, bool):  # --fused / --no-fused
                given = flag if value else "--no-" + flag[2:]
            else:
                given = f"{flag} {value}"
            raise UserError(f"{given} differs from the checkpoint's {name}="
                            f"{saved.get(name)!r} ({path}); drop it to resume, or start a "
                            f"new run with another --checkpoint")
    if args.text is not None and saved.get("task") != "text":
        raise UsageError(f"--text is only for a text run; {path} holds a run of "
                         f"--task {saved.get('task')}")


def _refuse_to_replace(path: str) -> None:
    """UserError if `path` (or what it links to) exists: a new run never replaces a file
    silently; the message says what is there and how to go on."""
    if not os.path.exists(path):
        return
    from rnn.checkpoint import CheckpointError, load_checkpoint

    try:
        saved = load_checkpoint(path)
        task = saved.config.get("task") if saved.kind == "train" else saved.kind
        what = f"a checkpoint of {saved.config.get('cell')} on {task} at step {saved.step}"
    except CheckpointError:
        what = "not a checkpoint rnn-lab can read"
    raise UserError(f"{path} already exists ({what}); continue that run with --resume, "
                    f"choose another --checkpoint, or replace it with --force")


def run(args) -> int:
    single_thread_blas()  # before NumPy loads
    from tqdm.auto import tqdm

    from rnn.checkpoint import CheckpointError, check_kind, check_writable, load_checkpoint
    from rnn.training import Trainer, TrainingInterrupted

    def log(line):
        tqdm.write(line, file=sys.stdout)
        sys.stdout.flush()

    progress = False if args.no_progress else None
    _check_flags(args)
    if args.max_memory is not None:
        os.environ[MEMORY_ENV] = str(args.max_memory)  # read by the memory checks
    runner, extra = Trainer, {}
    if args.engine == "torch":
        from rnn.torch_engine import require_torch

        require_torch("--engine torch")
        from rnn.torch_engine.launch import TorchRun

        runner, extra = TorchRun, {"device": args.device or "cpu", "nproc": args.nproc}
    if args.plot:
        output_target(args.plot, "plot")  # a bad --plot fails before the training
    if args.resume:
        if not os.path.exists(args.checkpoint):
            raise CheckpointError(f"{args.checkpoint}: no such checkpoint to resume")
        saved = load_checkpoint(args.checkpoint)
        check_kind(saved, "train", "only a training run can be resumed")
        _check_resume_args(args, saved.config, args.checkpoint)
        check_writable(args.checkpoint)
        trainer = runner.resume(args.checkpoint, steps=args.steps, text_path=args.text,
                                progress=progress, log=log, save_every=args.save_every, **extra)
        config = trainer.config
    else:
        config = _config_from_args(args)
        path = args.checkpoint or f"{config.task}-{config.cell}.npz"
        check_writable(path)
        if not args.force:
            _refuse_to_replace(path)
        trainer = runner.from_config(config, checkpoint=path, progress=progress, log=log,
                                     save_every=args.save_every, **extra)
    try:
        trainer.fit()
    except TrainingInterrupted as stop:
        where = (f"checkpoint saved to {stop.path} (continue with --checkpoint {stop.path} "
                 f"--resume)" if stop.path else "nothing saved")
        print(f"rnn-lab train: interrupted ({signal_name(stop.signum)}) at step {stop.step}; "
              f"{where}", file=sys.stderr)
        return exit_status(stop)
    if getattr(trainer, "quiet", False):  # a torchrun rank other than 0
        return 0
    history = trainer.history
    final = {k[4:]: v[-1] for k, v in history.items() if k.startswith("val_") and v
             and k != "val_step"}
    shown = "  ".join(f"{k} {v:.4f}" for k, v in final.items())
    print(f"done: step {trainer.step}  {('validation ' + shown) if shown else ''}".rstrip())
    print(f"checkpoint: {trainer.checkpoint_path}")
    if args.plot:
        from rnn.plots import plot_history

        plot_history(history, args.plot, title=f"{config.cell} on {config.task}")
        print(f"plot: {args.plot}")
    return 0
