-- What the wrk scripts of bench/ share: per-thread status counts and the one-line JSON report.
--
--   local report = require("wrk_report")   -- after adding the script's folder to package.path
--   report.count(status)                    -- in response(): counts the status in this thread
--   report.write("PREFIX", summary, latency)   -- in done(): prints "PREFIX {...}"
--
-- Requiring it defines wrk's setup(): each thread gets "thread_id" (1, 2, ...) and is kept in
-- report.threads (done() reads the threads' own variables from there).
--
-- The JSON has requests, duration_s, requests_per_s, latency_ms (p50, p90, p95, p99, max,
-- mean), the count of each HTTP status (summed over the threads) and wrk's socket errors.

local report = { threads = {} }

statuses = {}

function setup(thread)
  table.insert(report.threads, thread)
  thread:set("thread_id", #report.threads)
end

function report.count(status)
  local key = tostring(status)
  statuses[key] = (statuses[key] or 0) + 1
end

function report.write(prefix, summary, latency)
  local counts = {}
  for _, thread in ipairs(report.threads) do
    for key, count in pairs(thread:get("statuses") or {}) do
      counts[key] = (counts[key] or 0) + count
    end
  end
  local parts = {}
  for key, count in pairs(counts) do
    table.insert(parts, string.format('"%s": %d', key, count))
  end
  local seconds = summary.duration / 1e6
  local errors = summary.errors
  io.write(
    string.format(
      '%s {"requests": %d, "duration_s": %.3f, "requests_per_s": %.2f, '
        .. '"latency_ms": {"p50": %.2f, "p90": %.2f, "p95": %.2f, "p99": %.2f, "max": %.2f, '
        .. '"mean": %.2f}, "status": {%s}, "non_2xx_3xx": %d, "socket_errors": {"connect": %d, '
        .. '"read": %d, "write": %d, "timeout": %d}}\n',
      prefix,
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

return report
