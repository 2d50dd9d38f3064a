-- wrk script for benchmarks/bench_checks.py: POSTs pre-generated eligibility checks.
--
--   wrk -t2 -c32 -d30s --latency -s checks.lua http://127.0.0.1:PORT -- NUMBERS CARDS TOKEN SHARE
--
-- For each wrk thread T (0, 1, ...) the folder NUMBERS holds number_T.jsonl and the folder
-- CARDS holds card_T.jsonl: one JSON request body per line. Each thread reads only its own files, so a card body (one
-- single-use face attestation) is never sent twice. Number bodies are cycled; when a thread
-- has used all its card bodies it sends number checks instead and counts them as card_short.
-- SHARE is the fraction of card checks (0..1), interleaved deterministically.
-- done() prints one line: {"kokuho_wrk": {...}} with status and validity counts.

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

local numbers = {}
local cards = {}
local n_next, c_next = 1, 1
local share, acc = 0, 0

-- Globals read by done() through thread:get.
status_counts = {}
validity_counts = {}
sent_number, sent_card, card_short = 0, 0, 0

function init(args)
  local number_dir, card_dir, token = args[1], args[2], args[3]
  share = tonumber(args[4]) or 0
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

function request()
  acc = acc + share
  if acc >= 1 then
    acc = acc - 1
    if c_next <= #cards then
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
  for _, thread in ipairs(threads) do
    add(statuses, thread:get("status_counts"))
    add(validities, thread:get("validity_counts"))
    totals.number = totals.number + (thread:get("sent_number") or 0)
    totals.card = totals.card + (thread:get("sent_card") or 0)
    totals.card_short = totals.card_short + (thread:get("card_short") or 0)
  end
  local e = summary.errors
  local out = string.format(
    '{"kokuho_wrk":{"requests":%d,"duration_us":%d,"bytes":%d,'
      .. '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},'
      .. '"latency_us":{"mean":%.1f,"p50":%d,"p90":%d,"p99":%d,"p999":%d,"max":%d},'
      .. '"status":%s,"validity":%s,"sent":%s}}',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency.mean, latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max,
    object(statuses), object(validities), object(totals)
  )
  io.write(out .. "\n")
end
