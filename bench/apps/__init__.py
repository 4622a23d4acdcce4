"""The two floors bench/receiver.py compares the receiver with."""
