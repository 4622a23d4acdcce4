-- Claim the right to start a job: PENDING -> STARTING, or a STARTING claim gone stale.
-- KEYS: 1 job hash
-- ARGV: 1 owner, 2 now, 3 stale after (seconds)
-- Returns 1 when this caller may start the job, 0 otherwise.
local state = redis.call('HGET', KEYS[1], 'state')
if not state then
  return 0
end
if state == 'STARTING' then
  local since = tonumber(redis.call('HGET', KEYS[1], 'starting_at') or '0')
  if tonumber(ARGV[2]) - since < tonumber(ARGV[3]) then
    return 0
  end
elseif state ~= 'PENDING' then
  return 0
end
redis.call('HSET', KEYS[1], 'state', 'STARTING', 'rank', '1', 'start_owner', ARGV[1],
  'starting_at', ARGV[2], 'updated_at', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
return 1
