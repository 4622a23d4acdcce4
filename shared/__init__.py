"""What the receiver and the workers both import: config, events, Bitbucket client, logging."""
