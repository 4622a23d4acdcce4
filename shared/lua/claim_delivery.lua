-- Claim a webhook delivery once, by its delivery id and by the hash of its raw body, record it
-- as queued with the deadline the sweep watches, and (when given) push its task message onto
-- the queue: a crash can leave no claim without a task, and no task without a record.
-- KEYS: 1 seen-id, 2 seen-body, 3 record hash, 4 raw body, 5 recent index (zset),
--       6 deadline index (zset), 7 the queue's list
-- ARGV: 1 delivery id, 2 dedupe window (s), 3 record ttl (s), 4 now (score), 5 raw body,
--       6 deadline (score), 7 task message ('' when the caller publishes it itself),
--       8.. record field/value pairs
-- Returns {0, id} when claimed, {1, id} for a known delivery id, {2, first id} for a known body.
local owner = redis.call('GET', KEYS[1])
if owner then
  return {1, owner}
end
local first = redis.call('GET', KEYS[2])
if first then
  return {2, first}
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
redis.call('SET', KEYS[2], ARGV[1], 'EX', ARGV[2])
redis.call('DEL', KEYS[3])
redis.call('HSET', KEYS[3], unpack(ARGV, 8))
redis.call('EXPIRE', KEYS[3], ARGV[3])
redis.call('SET', KEYS[4], ARGV[5], 'EX', ARGV[2])
redis.call('ZADD', KEYS[5], ARGV[4], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[5], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[3]))
redis.call('ZADD', KEYS[6], ARGV[6], ARGV[1])
if ARGV[7] ~= '' then
  redis.call('LPUSH', KEYS[7], ARGV[7])
end
return {0, ARGV[1]}
