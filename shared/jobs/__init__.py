"""Jobs started by Bitbucket events: planning, records in Redis, and their build statuses."""
