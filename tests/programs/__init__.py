"""Programs written in PyTorch's idiom, run on chainrule (here) and on PyTorch too (peer_tests)."""
