-- Pause a consumer after a 429: no token until Redis time + pause.
-- KEYS: 1 bucket hash; ARGV: 1 pause seconds ('' = exponential: 1, 2, 4 … cap), 2 cap seconds,
--       3 now override ('' = Redis TIME), 4 idle expiry (ms)
-- Returns the pause applied, in seconds, as a string.
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local strikes = redis.call('HINCRBY', KEYS[1], 'strikes', 1)
local pause
if ARGV[1] ~= '' then
  pause = tonumber(ARGV[1])
else
  pause = math.min(tonumber(ARGV[2]), 2 ^ (strikes - 1))
end
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if now + pause > current then
  redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', now + pause))
end
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return string.format('%.6f', pause)
