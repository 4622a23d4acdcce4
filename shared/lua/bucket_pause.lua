-- Pause a consumer after a 429: no token until Redis time + pause.
-- KEYS: 1 bucket hash, 2 calls hash (minute -> calls admitted in it)
-- ARGV: 1 pause seconds ('' = until the rolling hour lets the oldest recorded call out, or the
--       fallback when none is recorded), 2 fallback seconds, 3 now override ('' = Redis TIME),
--       4 idle expiry (ms)
-- Returns the pause applied, in seconds, as a string.
local now
if ARGV[3] ~= '' then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) + tonumber(t[2]) / 1000000
end
local pause
if ARGV[1] ~= '' then
  pause = tonumber(ARGV[1])
else
  local oldest
  local calls = redis.call('HGETALL', KEYS[2])
  for i = 1, #calls, 2 do
    local minute = tonumber(calls[i])
    if (minute + 1) * 60 + 3600 > now and (oldest == nil or minute < oldest) then
      oldest = minute
    end
  end
  if oldest then
    pause = (oldest + 1) * 60 + 3600 - now
  else
    pause = tonumber(ARGV[2])
  end
end
local current = tonumber(redis.call('HGET', KEYS[1], 'paused_until')) or 0
if now + pause > current then
  redis.call('HSET', KEYS[1], 'paused_until', string.format('%.6f', now + pause))
end
redis.call('PEXPIRE', KEYS[1], math.max(tonumber(ARGV[4]), math.ceil(1000 * (pause + 60))))
return string.format('%.6f', pause)
