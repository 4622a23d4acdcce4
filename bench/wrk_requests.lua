-- wrk script: each thread posts its own share of pre-signed, distinct webhook deliveries.
-- File lines: delivery id <TAB> signature <TAB> body. Args: file, thread count.
local counter = 0
local lines = {}
local next_line = 0

function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
end

function init(args)
  local threads = tonumber(args[2])
  local i = 0
  for line in io.lines(args[1]) do
    if i % threads == tid then
      lines[#lines + 1] = line
    end
    i = i + 1
  end
end

function request()
  next_line = next_line % #lines + 1
  local id, signature, body = lines[next_line]:match("([^\t]*)\t([^\t]*)\t(.*)")
  local headers = {
    ["X-Event-Key"] = "repo:push",
    ["X-Request-UUID"] = id,
    ["X-Hub-Signature"] = signature,
    ["Content-Type"] = "application/json",
  }
  return wrk.format("POST", "/api/webhooks/bitbucket", headers, body)
end

function done(summary, latency, requests)
  local statuses = summary.errors.status
  io.write(string.format("RESULT %d %d %d %.3f %.3f\n", summary.requests, statuses,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
