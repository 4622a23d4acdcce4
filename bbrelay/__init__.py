"""The operator's `bbrelay` tool and the machinery behind `make run` and `make test`."""
