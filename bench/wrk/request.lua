-- One request, repeated: what bench/run.sh drives every HTTP target with. Configured by environment variables, so one
-- script serves every target:
--   BENCH_METHOD         GET (default) or POST
--   BENCH_BODY           a form body (sent as application/x-www-form-urlencoded)
--   BENCH_AUTHORIZATION  the Authorization header, e.g. "Basic …" or "Bearer …"
--   BENCH_COOKIE         the Cookie header (the login form: its antiforgery cookie)
--   BENCH_DELAY_MS       pace each connection: wait this long before each request (0 or unset: as fast as possible)
--   BENCH_STATUS=1       count responses by status, and 429/503 without Retry-After; printed by done() as
--                        "status CODE COUNT" and "refused_without_retry_after COUNT" lines (costs reading each response)
-- Without BENCH_DELAY_MS and BENCH_STATUS the request is built once and wrk sends it at full speed.

wrk.method = os.getenv("BENCH_METHOD") or "GET"
local body = os.getenv("BENCH_BODY")
if body and body ~= "" then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
end
local authorization = os.getenv("BENCH_AUTHORIZATION")
if authorization and authorization ~= "" then
  wrk.headers["Authorization"] = authorization
end

local cookie = os.getenv("BENCH_COOKIE")
if cookie and cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

local delay_ms = tonumber(os.getenv("BENCH_DELAY_MS") or "0") or 0
if delay_ms > 0 then
  function delay()
    return delay_ms
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

if os.getenv("BENCH_STATUS") == "1" then
  statuses = {}
  refused_without_retry_after = 0

  function response(status, headers, _)
    statuses[status] = (statuses[status] or 0) + 1
    if (status == 429 or status == 503) and headers["Retry-After"] == nil and headers["retry-after"] == nil then
      refused_without_retry_after = refused_without_retry_after + 1
    end
  end

  function done(_, _, _)
    local totals, missing = {}, 0
    for _, thread in ipairs(threads) do
      for code, count in pairs(thread:get("statuses")) do
        totals[code] = (totals[code] or 0) + count
      end
      missing = missing + thread:get("refused_without_retry_after")
    end
    for code, count in pairs(totals) do
      io.write(string.format("status %d %d\n", code, count))
    end
    io.write(string.format("refused_without_retry_after %d\n", missing))
  end
end
