-- wrk script for bench/http_reads.py: GET requests over a list of paths, with a JWT.
--
--   BENCH_TOKEN=<JWT access token> BENCH_PATHS_FILE=paths.txt \
--     wrk -t2 -c16 -d10s --latency -s bench/http_reads.lua http://127.0.0.1:8000
--
-- Environment:
--   BENCH_TOKEN       JWT access token, sent as "Authorization: Bearer <token>" (none if empty)
--   BENCH_PATHS_FILE  one path (with its query string) per line; each connection walks the
--                     list from its own starting point, so the requests spread over the list
--
-- done() prints one line "HTTP_READS_JSON {...}" (bench/wrk_report.lua) with requests/s,
-- latency percentiles (ms) and the count of each HTTP status.

local script_dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
package.path = script_dir .. "?.lua;" .. package.path
local report = require("wrk_report") -- bench/wrk_report.lua

function init(args)
  local file = assert(io.open(os.getenv("BENCH_PATHS_FILE") or "", "r"), "BENCH_PATHS_FILE")
  local paths = {}
  for line in file:lines() do
    if line ~= "" then
      table.insert(paths, line)
    end
  end
  file:close()
  if #paths == 0 then
    error("BENCH_PATHS_FILE lists no path")
  end
  local token = os.getenv("BENCH_TOKEN") or ""
  local headers = { ["Accept"] = "application/json" }
  if token ~= "" then
    headers["Authorization"] = "Bearer " .. token
  end
  -- The requests are built once: wrk.format per request would cost the load generator CPU.
  requests = {}
  for _, path in ipairs(paths) do
    table.insert(requests, wrk.format("GET", path, headers))
  end
  next_index = ((thread_id or 1) * 7919) % #requests
end

function request()
  next_index = next_index % #requests + 1
  return requests[next_index]
end

function response(status, response_headers, body)
  report.count(status)
end

function done(summary, latency, requests_done)
  report.write("HTTP_READS_JSON", summary, latency)
end
