-- wrk script for benchmarks/bench_checks.py: POSTs pre-generated eligibility checks.
--
--   wrk -t2 -c32 -d30s --latency -s checks.lua http://127.0.0.1:PORT -- NUMBERS CARDS TOKEN SHARE \
--       [INTERVAL_US OFFSET_US]
--
-- For each wrk thread T (0, 1, ...) the folder NUMBERS holds number_T.jsonl and the folder
-- CARDS holds card_T.jsonl: one JSON request body per line. Each thread reads only its own files, so a card body (one
-- single-use face attestation) is never sent twice. Number bodies are cycled; when a thread
-- has used all its card bodies it sends number checks instead and counts them as card_short.
-- SHARE is the fraction of card checks (0..1), interleaved deterministically.
-- done() prints one line: {"kokuho_wrk": {...}} with status and validity counts.
--
-- Pacing (open loop, wrk2-style, through wrk's delay() hook): with INTERVAL_US > 0 each thread
-- sends on a fixed schedule, one request every INTERVAL_US microseconds from its first one
-- (thread T's schedule starts T * OFFSET_US later, so the threads interleave instead of sending
-- in pairs). Whichever connection of the thread is free takes the next slot and waits for it;
-- a connection free only after its slot has passed sends at once, and counts the send as late
-- (more than LATE_US after its slot). Without INTERVAL_US (or 0) delay() is removed in init():
-- wrk then runs closed loop, each connection sending as soon as its answer is in.
-- wrk measures latency from the send, not from the slot: when the server falls behind, the
-- waiting time of the late sends is not in the figures (coordinated omission); the caller
-- compares the achieved rate with the offered one and the late count tells the same.

local next_id = 0
local threads = {}

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

local function lines(path)
  local out = {}
  local handle = io.open(path, "r")
  if handle == nil then
    return out
  end
  for line in handle:lines() do
    if #line > 0 then
      out[#out + 1] = line
    end
  end
  handle:close()
  return out
end

local ffi = require("ffi")
ffi.cdef([[
typedef struct { long tv_sec; long tv_nsec; } kokuho_timespec;
int clock_gettime(int clock_id, kokuho_timespec *tp);
]])
local CLOCK_MONOTONIC = 1
local LATE_US = 2000
local clock = ffi.new("kokuho_timespec")

local function now_us()
  ffi.C.clock_gettime(CLOCK_MONOTONIC, clock)
  return tonumber(clock.tv_sec) * 1e6 + tonumber(clock.tv_nsec) / 1e3
end

local interval_us, offset_us, next_slot = 0, 0, nil

local numbers = {}
local cards = {}
local n_next, c_next = 1, 1
-- The count of card bodies, taken before any is used: request() clears each one it sends, and
-- Lua's # of a table with holes at the start is any border (LuaJIT's gave 0 once about half the
-- bodies were used, which turned the rest of the run's card checks into number checks).
local n_cards = 0
local share, acc = 0, 0

-- Globals read by done() through thread:get.
status_counts = {}
validity_counts = {}
sent_number, sent_card, card_short = 0, 0, 0
paced_sent, paced_late = 0, 0

function init(args)
  local number_dir, card_dir, token = args[1], args[2], args[3]
  share = tonumber(args[4]) or 0
  interval_us = tonumber(args[5]) or 0
  offset_us = tonumber(args[6]) or 0
  if interval_us <= 0 then
    delay = nil -- closed loop: wrk looks for delay() only after init()
  end
  local headers = {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
  }
  for i, body in ipairs(lines(number_dir .. "/number_" .. tid .. ".jsonl")) do
    numbers[i] = wrk.format("POST", "/api/v1/checks/number", headers, body)
  end
  for i, body in ipairs(lines(card_dir .. "/card_" .. tid .. ".jsonl")) do
    cards[i] = wrk.format("POST", "/api/v1/checks/card", headers, body)
  end
  n_cards = #cards
  if #numbers == 0 then
    error("no number bodies in " .. number_dir .. " for thread " .. tid)
  end
end

local function number()
  local req = numbers[n_next]
  n_next = n_next + 1
  if n_next > #numbers then
    n_next = 1
  end
  sent_number = sent_number + 1
  return req
end

-- Milliseconds this connection waits before its next request: until the thread's next slot.
function delay()
  local now = now_us()
  if next_slot == nil then
    next_slot = now + tid * offset_us
  end
  local slot = next_slot
  next_slot = next_slot + interval_us
  paced_sent = paced_sent + 1
  if slot <= now then
    if now - slot > LATE_US then
      paced_late = paced_late + 1
    end
    return 0
  end
  return math.floor((slot - now) / 1000 + 0.5)
end

function request()
  acc = acc + share
  if acc >= 1 then
    acc = acc - 1
    if c_next <= n_cards then
      local req = cards[c_next]
      cards[c_next] = nil
      c_next = c_next + 1
      sent_card = sent_card + 1
      return req
    end
    card_short = card_short + 1
  end
  return number()
end

function response(status, headers, body)
  local key = tostring(status)
  status_counts[key] = (status_counts[key] or 0) + 1
  local validity = body and string.match(body, '"validity":(%d)')
  if validity then
    validity_counts[validity] = (validity_counts[validity] or 0) + 1
  end
end

local function add(into, from)
  for k, v in pairs(from or {}) do
    into[k] = (into[k] or 0) + v
  end
end

local function object(t)
  local parts = {}
  for k, v in pairs(t) do
    parts[#parts + 1] = string.format('"%s":%d', k, v)
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

function done(summary, latency, requests)
  local statuses, validities = {}, {}
  local totals = { number = 0, card = 0, card_short = 0 }
  local paced = { slots = 0, late = 0 }
  for _, thread in ipairs(threads) do
    add(statuses, thread:get("status_counts"))
    add(validities, thread:get("validity_counts"))
    totals.number = totals.number + (thread:get("sent_number") or 0)
    totals.card = totals.card + (thread:get("sent_card") or 0)
    totals.card_short = totals.card_short + (thread:get("card_short") or 0)
    paced.slots = paced.slots + (thread:get("paced_sent") or 0)
    paced.late = paced.late + (thread:get("paced_late") or 0)
  end
  local e = summary.errors
  local out = string.format(
    '{"kokuho_wrk":{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},'
      .. '"status":%s,"validity":%s,"sent":%s,"paced":%s}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    object(statuses), object(validities), object(totals), object(paced)
  )
  io.write(out .. "\n")
end
