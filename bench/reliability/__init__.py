"""Pieces of `bench/chaos.py`: the relay under test, its load, its faults and the tally."""
