-- Take tokens from one consumer's bucket, on Redis time, atomically.
-- KEYS: 1 bucket hash (tokens, ts, paused_until, limit, near),
--       2 calls hash (minute -> calls admitted in it, for the rolling hour)
-- ARGV: 1 capacity, 2 refill per second assumed, 3 tokens requested (0 = peek),
--       4 now override in seconds ('' = Redis TIME), 5 idle expiry (ms),
--       6 tokens this caller must leave in the bucket (the share reserved for jobs),
--       7 the operator's requests per hour, never exceeded ('' = none set)
-- The refill follows the hourly limit Bitbucket announced (`limit`), capped by ARGV 7, and
-- halves while Bitbucket says the limit is near (`near`).
-- Returns {admitted 0/1, wait seconds, tokens left} as strings (Redis truncates numbers).
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local requested = tonumber(ARGV[3])
local floor = tonumber(ARGV[6]) or 0
local ceiling = tonumber(ARGV[7])
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused_until', 'limit', 'near')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local paused_until = tonumber(state[3]) or 0
local announced = tonumber(state[4])
if announced then
  if ceiling and ceiling < announced then
    announced = ceiling
  end
  rate = math.max(0, (announced - capacity) / 3600)
end
if state[5] == '1' then
  rate = rate / 2
end
if tokens == nil then
  tokens = capacity
  ts = now
end
if now > ts then
  tokens = math.min(capacity, tokens + (now - ts) * rate)
  ts = now
end
local admitted = 0
local wait = 0
if now < paused_until then
  wait = paused_until - now
elseif tokens - requested >= floor then
  tokens = tokens - requested
  admitted = 1
elseif rate > 0 then
  wait = (requested + floor - tokens) / rate
else
  wait = 3600
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
if admitted == 1 and requested > 0 then
  redis.call('HINCRBY', KEYS[2], tostring(math.floor(now / 60)), requested)
  redis.call('EXPIRE', KEYS[2], 3660)
end
return {admitted, string.format('%.6f', wait), string.format('%.6f', tokens)}
