-- Give a start claim back (STARTING -> PENDING) so the job can be started again.
-- KEYS: 1 job hash
-- ARGV: 1 the owner the caller knows the claim by
-- Returns 1 when released, 0 when the job is no longer STARTING under that owner.
if redis.call('HGET', KEYS[1], 'state') ~= 'STARTING'
    or redis.call('HGET', KEYS[1], 'start_owner') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'PENDING', 'rank', '0')
return 1
