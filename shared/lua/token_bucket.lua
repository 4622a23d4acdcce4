-- Take tokens from one consumer's bucket, on Redis time, atomically.
-- KEYS: 1 bucket hash (tokens, ts, paused_until, strikes)
-- ARGV: 1 capacity, 2 refill per second, 3 tokens requested (0 = peek),
--       4 now override in seconds ('' = Redis TIME), 5 idle expiry (ms)
-- Returns {admitted 0/1, wait seconds, tokens left, strikes} as strings (Redis truncates numbers).
local capacity = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local requested = tonumber(ARGV[3])
local now
if ARGV[4] ~= '' then
  now = tonumber(ARGV[4])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts', 'paused_until', 'strikes')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
local paused_until = tonumber(state[3]) or 0
local strikes = state[4] or '0'
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
elseif tokens >= requested then
  tokens = tokens - requested
  admitted = 1
elseif rate > 0 then
  wait = (requested - tokens) / rate
else
  wait = 3600
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.6f', tokens), 'ts', string.format('%.6f', ts))
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return {admitted, string.format('%.6f', wait), string.format('%.6f', tokens), strikes}
