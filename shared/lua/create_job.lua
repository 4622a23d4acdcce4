-- Create a job record unless it exists; one commit and rule give one job.
-- KEYS: 1 job hash, 2 recent-jobs index (sorted set), 3 deadline index (sorted set)
-- ARGV: 1 job id, 2 now, 3 ttl seconds, 4 request JSON, 5 when the sweep first looks at it
-- Returns 1 when created, 0 when it already existed.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], 'request', ARGV[4], 'state', 'PENDING', 'rank', '0',
  'created_at', ARGV[2], 'updated_at', ARGV[2], 'attempts', '0')
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[5], ARGV[1])
return 1
