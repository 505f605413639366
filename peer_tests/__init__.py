"""Peer tests: chainrule against PyTorch. Not part of the default suite (see README.md here)."""
