-- wrk script for bench/receiver.py: each thread posts its own file of pre-signed, distinct
-- deliveries (no request is sent twice unless the file runs out, which is counted as `wrapped`).
-- File lines: delivery id <TAB> signature <TAB> body. Args: path prefix (thread n reads
-- "<prefix>.<n>"), webhook path. Prints one RESULT line of key=value pairs at the end.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  threads[#threads + 1] = thread
end

local requests = {}
local next_index = 0
accepted, other_2xx, not_2xx, wrapped = 0, 0, 0, 0

function init(args)
  local path = args[2] or "/api/webhooks/bitbucket"
  for line in io.lines(args[1] .. "." .. tid) do
    local id, signature, body = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    requests[#requests + 1] = wrk.format("POST", path, {
      ["Content-Type"] = "application/json",
      ["User-Agent"] = "Bitbucket-Webhooks/2.0",
      ["X-Event-Key"] = "repo:push",
      ["X-Hook-UUID"] = "{6a5c4e8e-5f0b-4d8e-9b5e-bench0000000}",
      ["X-Request-UUID"] = id,
      ["X-Attempt-Number"] = "1",
      ["X-Hub-Signature"] = signature,
    }, body)
  end
end

function request()
  next_index = next_index + 1
  if next_index > #requests then
    next_index = 1
    wrapped = wrapped + 1
  end
  return requests[next_index]
end

function response(status, headers, body)
  if status == 202 then
    accepted = accepted + 1
  elseif status >= 200 and status < 300 then
    other_2xx = other_2xx + 1
  else
    not_2xx = not_2xx + 1
  end
end

function done(summary, latency, requests)
  local totals = { accepted = 0, other_2xx = 0, not_2xx = 0, wrapped = 0 }
  for _, thread in ipairs(threads) do
    for key, _ in pairs(totals) do
      totals[key] = totals[key] + thread:get(key)
    end
  end
  local e = summary.errors
  io.write(string.format(
    "RESULT requests=%d duration_us=%d accepted=%d other_2xx=%d not_2xx=%d socket_errors=%d " ..
    "wrapped=%d p50_ms=%.3f p99_ms=%.3f max_ms=%.3f\n",
    summary.requests, summary.duration, totals.accepted, totals.other_2xx, totals.not_2xx,
    e.connect + e.read + e.write + e.timeout, totals.wrapped,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
