-- Move a delivery record forward; never back from a final state to an earlier one.
-- A final state takes the delivery out of the sweep's deadline index.
-- KEYS: 1 record hash, 2 deadline index (zset)
-- ARGV: 1 new status, 2 rank of the new status, 3 increment attempts (0/1), 4 delivery id,
--       5.. field/value pairs
-- Returns 1 when applied, 0 when the record is missing or already further on.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local rank = tonumber(redis.call('HGET', KEYS[1], 'rank') or '0')
if tonumber(ARGV[2]) < rank then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'rank', ARGV[2])
if ARGV[3] == '1' then
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
end
if #ARGV >= 5 then
  redis.call('HSET', KEYS[1], unpack(ARGV, 5))
end
if tonumber(ARGV[2]) >= 3 then
  redis.call('ZREM', KEYS[2], ARGV[4])
end
return 1
