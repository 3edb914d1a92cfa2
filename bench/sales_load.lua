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

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = script_dir .. "?.lua;" .. package.path
local report = require("wrk_report") -- bench/wrk_report.lua

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
  report.count(status)
  if status == 201 then
    -- DRF renders compact JSON with "id" first: {"id":123,"reference":...}
    local id = string.match(body, '"id"%s*:%s*(%d+)')
    table.insert(created_ids, id or "?")
  end
end

function done(summary, latency, requests)
  local ids_file = os.getenv("BENCH_IDS_FILE")
  if ids_file then
    local out = assert(io.open(ids_file, "w"))
    for _, thread in ipairs(report.threads) do
      for _, id in ipairs(thread:get("created_ids") or {}) do
        out:write(id, "\n")
      end
    end
    out:close()
  end
  report.write("SALES_LOAD_JSON", summary, latency)
end
