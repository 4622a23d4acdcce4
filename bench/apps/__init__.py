"""The two floors bench/receiver.py serves with gunicorn beside the receiver."""
