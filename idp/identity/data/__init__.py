"""Data files of the identity package: the GB/T 2260 region table (see README.md)."""
