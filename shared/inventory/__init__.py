"""The inventory: Bitbucket's graph of projects, repositories, people and pull requests."""
