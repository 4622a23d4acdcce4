"""One Bitbucket client for Cloud and Server/DC: auth, token bucket, pagination, errors."""
