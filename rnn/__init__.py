"""rnn-lab: recurrent cells, layers, training, symbolic derivations and diagrams."""
