-- Claim the right to start a job: PENDING -> STARTING for exactly one caller.
-- A STARTING job is never claimed again here: the sweep looks for the run it may have
-- started before it gives the claim back (see workers/sweep.py).
-- KEYS: 1 job hash, 2 deadline index (sorted set)
-- ARGV: 1 owner, 2 now, 3 job id, 4 when the sweep looks at the start
-- Returns 1 when this caller may start the job, 0 otherwise.
if redis.call('HGET', KEYS[1], 'state') ~= 'PENDING' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'STARTING', 'rank', '1', 'start_owner', ARGV[1],
  'starting_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('ZADD', KEYS[2], ARGV[4], ARGV[3])
return 1
