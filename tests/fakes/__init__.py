"""Fakes that tests run as real servers: Bitbucket's HTTP API, a job platform."""
