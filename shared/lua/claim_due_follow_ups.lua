-- Take the follow-ups that are due, leasing each so that only this caller sends it now.
-- A leased follow-up that is not acknowledged before its lease ends is due again.
-- KEYS: 1 due index (zset member -> due time), 2 messages (hash member -> task JSON)
-- ARGV: 1 now, 2 lease (s), 3 at most this many
-- Returns the task JSON of each follow-up taken.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local taken = {}
local until_time = tonumber(ARGV[1]) + tonumber(ARGV[2])
for _, member in ipairs(due) do
  local message = redis.call('HGET', KEYS[2], member)
  if message then
    redis.call('ZADD', KEYS[1], until_time, member)
    taken[#taken + 1] = message
  else
    redis.call('ZREM', KEYS[1], member)
  end
end
return taken
