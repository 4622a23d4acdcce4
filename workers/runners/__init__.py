"""How a job is started and followed: Bitbucket Pipelines, or the platform over HTTP."""
