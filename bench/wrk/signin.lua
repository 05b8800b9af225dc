-- Browser sign-in under load, as pairs: a silent re-authorization (GET /authorize with prompt=none and the browser's
-- sign-in session cookie: a 302 to the app with a code) and that code's exchange (POST /token, grant_type=authorization_code
-- with the PKCE verifier). The codes a thread receives wait in its queue for the next request of any of its connections.
-- A pair is two requests: pairs/s is half the requests/s wrk reports.
--   BENCH_AUTHORIZE   the path and query of the authorization request (client_id, redirect_uri, S256 challenge, prompt=none)
--   BENCH_COOKIE      the Cookie header: the session cookie of a signed-in browser
--   BENCH_EXCHANGE    the exchange's form without its code: grant_type, client_id, redirect_uri, code_verifier

local authorize = os.getenv("BENCH_AUTHORIZE")
local cookie = os.getenv("BENCH_COOKIE")
local exchange = os.getenv("BENCH_EXCHANGE")

codes = {}
statuses = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function request()
  local code = table.remove(codes)
  if code then
    return wrk.format("POST", "/token", { ["Content-Type"] = "application/x-www-form-urlencoded" }, exchange .. "&code=" .. code)
  end
  return wrk.format("GET", authorize, { ["Cookie"] = cookie })
end

function response(status, headers, _)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 302 then
    local location = headers["Location"] or headers["location"]
    local code = location and location:match("[?&]code=([^&]+)")
    if code then
      table.insert(codes, code)
    end
  end
end

-- The responses by status ("status CODE COUNT", as request.lua's BENCH_STATUS prints them): as many 200s (exchanges) as
-- 302s (codes) shows that the pairs were whole.
function done(_, _, _)
  local totals = {}
  for _, thread in ipairs(threads) do
    for code, count in pairs(thread:get("statuses")) do
      totals[code] = (totals[code] or 0) + count
    end
  end
  for code, count in pairs(totals) do
    io.write(string.format("status %d %d\n", code, count))
  end
end
