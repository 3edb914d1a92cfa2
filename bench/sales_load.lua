-- wrk script for bench/sales_load.py: POST /api/sales/ with 1-3 random products per sale.
--
--   BENCH_TOKEN=<JWT access token> BENCH_PRODUCT_IDS=1,2,3,... \
--     wrk -t2 -c16 -d20s --latency -s bench/sales_load.lua http://127.0.0.1:8000
--
-- Environment:
--   BENCH_TOKEN        JWT access token (sent as "Authorization: Bearer <token>")
--   BENCH_PRODUCT_IDS  comma-separated product ids to sell
--   BENCH_MAX_QTY      largest quantity of one line (default 3)
--   BENCH_PATH         endpoint (default /api/sales/)
--   BENCH_IDS_FILE     if set, done() writes there the id of every sale answered 201, one a line
--
-- done() prints one line "SALES_LOAD_JSON {...}" with requests/s, latency percentiles (ms) and
-- the count of each HTTP status (collected by response() in every thread).

local threads = {}
local thread_count = 0

function setup(thread)
  thread_count = thread_count + 1
  thread:set("thread_id", thread_count)
  table.insert(threads, thread)
end

local function split_ids(text)
  local ids = {}
  for id in string.gmatch(text or "", "%d+") do
    table.insert(ids, tonumber(id))
  end
  return ids
end

function init(args)
  product_ids = split_ids(os.getenv("BENCH_PRODUCT_IDS"))
  if #product_ids < 3 then
    error("BENCH_PRODUCT_IDS must list at least 3 product ids")
  end
  max_qty = tonumber(os.getenv("BENCH_MAX_QTY") or "3")
  path = os.getenv("BENCH_PATH") or "/api/sales/"
  headers = {
    ["Authorization"] = "Bearer " .. (os.getenv("BENCH_TOKEN") or ""),
    ["Content-Type"] = "application/json",
    ["Accept"] = "application/json",
  }
  -- wrk seeds nothing per thread: mix the thread id in so threads send different sales.
  math.randomseed(os.time() * 1000 + (thread_id or 0) * 7919)
  statuses = {}
  created_ids = {}
end

function request()
  local lines = math.random(1, 3)
  local picked = {}
  local items = {}
  while #items < lines do
    local id = product_ids[math.random(1, #product_ids)]
    if not picked[id] then
      picked[id] = true
      table.insert(
        items,
        string.format('{"product": %d, "quantity": %d}', id, math.random(1, max_qty))
      )
    end
  end
  local body = '{"customer": null, "items": [' .. table.concat(items, ", ") .. "]}"
  return wrk.format("POST", path, headers, body)
end

function response(status, response_headers, body)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
  if status == 201 then
    -- DRF renders compact JSON with "id" first: {"id":123,"reference":...}
    local id = string.match(body, '"id"%s*:%s*(%d+)')
    table.insert(created_ids, id or "?")
  end
end

function done(summary, latency, requests)
  local counts = {}
  local ids_file = os.getenv("BENCH_IDS_FILE")
  local out = ids_file and io.open(ids_file, "w")
  for _, thread in ipairs(threads) do
    local thread_statuses = thread:get("statuses") or {}
    for key, count in pairs(thread_statuses) do
      counts[key] = (counts[key] or 0) + count
    end
    if out then
      for _, id in ipairs(thread:get("created_ids") or {}) do
        out:write(id, "\n")
      end
    end
  end
  if out then
    out:close()
  end
  local parts = {}
  for key, count in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', key, count))
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(
    string.format(
      'SALES_LOAD_JSON {"requests": %d, "duration_s": %.3f, "requests_per_s": %.2f, '
        .. '"latency_ms": {"p50": %.2f, "p90": %.2f, "p95": %.2f, "p99": %.2f, "max": %.2f, '
        .. '"mean": %.2f}, "status": {%s}, "non_2xx_3xx": %d, "socket_errors": {"connect": %d, '
        .. '"read": %d, "write": %d, "timeout": %d}}\n',
      summary.requests,
      seconds,
      summary.requests / seconds,
      latency:percentile(50) / 1000,
      latency:percentile(90) / 1000,
      latency:percentile(95) / 1000,
      latency:percentile(99) / 1000,
      latency.max / 1000,
      latency.mean / 1000,
      table.concat(parts, ", "),
      errors.status,
      errors.connect,
      errors.read,
      errors.write,
      errors.timeout
    )
  )
end
