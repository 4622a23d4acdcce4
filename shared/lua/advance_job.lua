-- Move a job forward; a final state is never left and a lower rank never replaces a higher.
-- KEYS: 1 job hash
-- ARGV: 1 state, 2 rank, 3 now, 4.. field/value pairs to set with it
-- Returns 1 when applied, 0 when the job is missing, final or further on.
local current = redis.call('HGET', KEYS[1], 'rank')
if not current then
  return 0
end
current = tonumber(current)
local rank = tonumber(ARGV[2])
if current >= 3 or rank < current then
  return 0
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'rank', ARGV[2], 'updated_at', ARGV[3])
if #ARGV >= 4 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 4))
end
return 1
