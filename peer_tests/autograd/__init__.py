"""Autograd against torch: custom functions in PyTorch's form, run by both libraries."""
