-- Pop the list's head (KEYS[1]) only if it is still ARGV[1]: 1 when popped, else 0.
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then
  return redis.call('LPOP', KEYS[1]) and 1
end
return 0
