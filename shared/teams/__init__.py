"""Team sync: Bitbucket workspace members and groups mapped to platform roles."""
