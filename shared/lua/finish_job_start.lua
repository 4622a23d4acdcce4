-- Record a started run: STARTING -> INPROGRESS, only for the caller that still holds the claim.
-- KEYS: 1 job hash
-- ARGV: 1 owner, 2 now, 3.. field/value pairs to set with it
-- Returns 1 when applied; 0 when the claim was given back or taken over meanwhile.
if redis.call('HGET', KEYS[1], 'state') ~= 'STARTING'
    or redis.call('HGET', KEYS[1], 'start_owner') ~= ARGV[1] then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'INPROGRESS', 'rank', '2', 'updated_at', ARGV[2])
if #ARGV >= 3 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 3))
end
return 1
