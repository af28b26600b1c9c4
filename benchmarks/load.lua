-- wrk script for benchmarks/load_bench.py: sends one header set, stops each thread after its
-- share of the request budget, and prints the figures as one JSON line at the end.
-- Usage: wrk ... -s load.lua URL -- MAX_REQUESTS HEADER...   (headers as "Name: value")

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_nsec; } portal_timespec;
int clock_gettime(int clock_id, portal_timespec *tp);
]]

-- wrk's own duration is always the -d bound, even when every thread stopped early on its
-- budget, so the script times the run itself (CLOCK_MONOTONIC) for the request rate.
local function monotonic()
  local t = ffi.new("portal_timespec")
  ffi.C.clock_gettime(1, t)
  return tonumber(t.tv_sec) + tonumber(t.tv_nsec) / 1e9
end

local budget = 0
local sent = 0
local headers = {}
local threads = {}
local started = nil
stopped_at = nil -- global, so done() can read it from each thread

function setup(thread)
  started = started or monotonic()
  table.insert(threads, thread)
end

function init(args)
  local total = tonumber(args[1]) or 0
  local threads = tonumber(os.getenv("WRK_THREADS") or "1")
  budget = math.ceil(total / threads)
  for i = 2, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if name then headers[name] = value end
  end
end

function request()
  return wrk.format("GET", nil, headers)
end

function response(status, response_headers, body)
  sent = sent + 1
  if budget > 0 and sent >= budget then
    stopped_at = monotonic()
    wrk.thread:stop()
  end
end

function done(summary, latency, requests)
  local errors = summary.errors
  local duration = summary.duration / 1e6
  local last = 0
  for _, thread in ipairs(threads) do
    local at = thread:get("stopped_at")
    if at == nil then last = nil; break end
    if at > last then last = at end
  end
  if last ~= nil and started ~= nil then duration = last - started end
  io.write(string.format(
    '{"requests": %d, "duration_s": %.3f, "bytes": %d, "non_2xx_3xx": %d, "socket_errors": %d, '
    .. '"timeouts": %d, "p50_ms": %.1f, "p95_ms": %.1f, "p99_ms": %.1f, "max_ms": %.1f, "mean_ms": %.1f}\n',
    summary.requests, duration, summary.bytes, errors.status,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50) / 1e3, latency:percentile(95) / 1e3, latency:percentile(99) / 1e3,
    latency.max / 1e3, latency.mean / 1e3))
end
