-- wrk script of `make bench` (bench/compare/load.py): replays a pool of prepared requests.
--
--   wrk -tT ... -s pool.lua URL -- POOL_FILE MODE OK_STATUSES T [BODY_PATTERN]
--
-- POOL_FILE: one request a line, tab-separated: METHOD, PATH, BODY, then "Name: value" headers.
--   In "once" mode item k goes to thread (k-1) % T, so no two threads send the same item.
-- MODE: "once" (single-use items: codes, refresh tokens, sign-in forms) — each item is sent
--   once: a connection with nothing left to send waits (delay()), and the thread stops when
--   every answer it waits for has come (wrk.thread:stop()); "cycle" (reusable items: discovery,
--   access tokens) — every thread sends all the items round and round. Set the environment
--   variable BENCH_POOL_ONCE=1 for "once": wrk decides whether a script has delay() when it
--   loads it, before init() sees the arguments.
-- OK_STATUSES: comma-separated statuses that count as success (e.g. "200" or "302,303").
-- T: wrk's thread count (-t), to deal the items out.
-- BODY_PATTERN: a Lua pattern a successful body must contain (e.g. introspection's
--   '"active":%s*true'), else the response counts as a failure.
--
-- done() prints one line "BENCH_RESULT {json}": completed, ok, failed (by status), the wall time
-- from each thread's first request to its last response (CLOCK_MONOTONIC through LuaJIT's FFI:
-- wrk's own duration includes the idle tail after a pool ran out) and wrk's latency percentiles.

local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } bench_timespec;
int clock_gettime(int clk_id, bench_timespec *tp);
]]
local timespec = ffi.new("bench_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec) -- CLOCK_MONOTONIC
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

-- main state ----------------------------------------------------------------------------
local threads = {}

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

-- thread state --------------------------------------------------------------------------
local requests = {}
local count, position, reserved, cycle = 0, 1, 0, false
local accepted, pattern = {}, nil
local idle_request
local verified = true
stopped, sent, ok, failed, ignored = false, 0, 0, 0, 0
first_sent, last_received = 0, 0
statuses = {}
items = 0

local function split(line, sep)
  local fields, start = {}, 1
  while true do
    local i = string.find(line, sep, start, true)
    if not i then
      table.insert(fields, string.sub(line, start))
      return fields
    end
    table.insert(fields, string.sub(line, start, i - 1))
    start = i + 1
  end
end

function init(args)
  local file, mode, oks = args[1], args[2], args[3]
  cycle = mode == "cycle"
  for status in string.gmatch(oks, "%d+") do accepted[tonumber(status)] = true end
  local nthreads = math.max(1, tonumber(args[4]) or 1)
  if args[5] and args[5] ~= "" then pattern = args[5] end
  local k = 0
  for line in io.lines(file) do
    if line ~= "" then
      if cycle or k % nthreads == thread_index then
        local f = split(line, "\t")
        local headers = {}
        for i = 4, #f do
          local name, value = string.match(f[i], "^([^:]+):%s*(.*)$")
          if name then headers[name] = value end
        end
        local body = f[3] ~= "" and f[3] or nil
        table.insert(requests, wrk.format(f[1], f[2], headers, body))
        if not idle_request and f[1] == "GET" then idle_request = requests[#requests] end
      end
      k = k + 1
    end
  end
  count = #requests
  items = count
  verified = thread_index ~= 0
  if cycle then -- every thread has them all: start each at another place in the list
    position = 1 + math.floor(count * thread_index / nthreads)
  end
  -- What request() answers with nothing left: never a consumed item (a replayed code or
  -- refresh token revokes what it issued).
  idle_request = idle_request or wrk.format("GET", "/.well-known/openid-configuration")
end

local function exhausted()
  return not cycle and position > count
end

local function stop()
  if not stopped then
    stopped = true
    wrk.thread:stop()
  end
end

if os.getenv("BENCH_POOL_ONCE") == "1" then
  -- wrk calls delay() for each request it is about to make, then request() on a later turn of
  -- its loop: an item is reserved here, so that every request() has one. A connection with
  -- none left is parked (far beyond any run) until the thread stops.
  function delay()
    if reserved >= count then return 3600000 end
    reserved = reserved + 1
    return 0
  end
end

function request()
  if not verified then
    -- wrk calls request() once on the first thread before any connection opens, only to
    -- check what it returns: hand it an item without spending it (it is never sent).
    verified = true
    return requests[1] or idle_request
  end
  if position > count then
    if cycle and count > 0 then
      position = 1
    elseif cycle then
      stop()
      return idle_request
    else
      -- Only after wrk reconnected a connection (a socket error, which wrk counts): resending
      -- takes a new item, and none is left. Never a consumed item: this answer is a failure.
      return idle_request
    end
  end
  if first_sent == 0 then first_sent = now() end
  local r = requests[position]
  position = position + 1
  sent = sent + 1
  return r
end

function response(status, headers, body)
  if stopped then
    ignored = ignored + 1
    return
  end
  last_received = now()
  if accepted[status] and (not pattern or (body and string.find(body, pattern))) then
    ok = ok + 1
  else
    failed = failed + 1
    local key = tostring(status)
    statuses[key] = (statuses[key] or 0) + 1
  end
  if exhausted() and ok + failed >= sent then stop() end
end

-- main state again ----------------------------------------------------------------------
local function json(value)
  local t = type(value)
  if t == "table" then
    local parts = {}
    for k, v in pairs(value) do
      table.insert(parts, string.format("%q:%s", tostring(k), json(v)))
    end
    return "{" .. table.concat(parts, ",") .. "}"
  elseif t == "string" then
    return string.format("%q", value)
  elseif t == "boolean" then
    return value and "true" or "false"
  elseif t == "number" then
    if value ~= value or value == math.huge or value == -math.huge then return "null" end
    return string.format("%.6f", value)
  end
  return "null"
end

function done(summary, latency, requests_)
  local result = {
    sent = 0, ok = 0, failed = 0, ignored = 0, items = 0, exhausted_threads = 0,
    statuses = {}, start = nil, finish = nil,
    latency_us = {
      p50 = latency:percentile(50), p90 = latency:percentile(90),
      p99 = latency:percentile(99), mean = latency.mean, max = latency.max,
    },
    wrk = {
      requests = summary.requests, duration_us = summary.duration,
      connect_errors = summary.errors.connect, read_errors = summary.errors.read,
      write_errors = summary.errors.write, status_errors = summary.errors.status,
      timeouts = summary.errors.timeout,
    },
  }
  for _, thread in ipairs(threads) do
    result.sent = result.sent + thread:get("sent")
    result.ok = result.ok + thread:get("ok")
    result.failed = result.failed + thread:get("failed")
    result.ignored = result.ignored + thread:get("ignored")
    result.items = result.items + thread:get("items")
    if thread:get("stopped") then result.exhausted_threads = result.exhausted_threads + 1 end
    for status, n in pairs(thread:get("statuses")) do
      result.statuses[status] = (result.statuses[status] or 0) + n
    end
    local first, last = thread:get("first_sent"), thread:get("last_received")
    if first > 0 and (not result.start or first < result.start) then result.start = first end
    if last > 0 and (not result.finish or last > result.finish) then result.finish = last end
  end
  result.unanswered = result.sent - result.ok - result.failed
  result.elapsed_s = (result.start and result.finish) and (result.finish - result.start) or 0
  result.start, result.finish = nil, nil
  io.write("BENCH_RESULT " .. json(result) .. "\n")
end
