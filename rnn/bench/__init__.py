"""Benchmarks, one module each with `main(argv) -> int`, run by `rnn-lab bench NAME`: `overhead`
(the engine's cost per op), `lstm` (a training step, with `lstm_variants` and `lstm_text`),
`symbolic` (SymPy derivations) and `draw` (model to SVG)."""
