-- Acknowledge the follow-ups a finished task ran as, unless they were scheduled again since.
-- KEYS: 1 due index (zset), 2 messages (hash), 3 task ids (hash member -> task id)
-- ARGV: 1 the finished task's id, 2.. the members it may have run as
-- Returns how many follow-ups were acknowledged.
local acked = 0
for i = 2, #ARGV do
  if redis.call('HGET', KEYS[3], ARGV[i]) == ARGV[1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('HDEL', KEYS[2], ARGV[i])
    redis.call('HDEL', KEYS[3], ARGV[i])
    acked = acked + 1
  end
end
return acked
