-- The refresh_token grant under load, with real rotation: every response spends the token sent and returns its
-- successor, which goes back into the pool for the next request. Start with at least twice as many tokens as
-- connections: a request still in flight when wrk stops spends its token, and its successor is never read.
--   BENCH_POOL_IN   a file of refresh tokens, one a line (read once, at start)
--   BENCH_POOL_OUT  where done() writes the tokens left unspent, for the next run
-- Use one wrk thread (-t1): the pool lives in that thread. A response without a refresh token (an error) loses its
-- token; when the pool is empty the request carries an invalid token, which the server refuses (non-2xx, reported).

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"

pool = {}

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(_)
  for line in io.lines(os.getenv("BENCH_POOL_IN")) do
    if line ~= "" then
      table.insert(pool, line)
    end
  end
end

function request()
  local token = table.remove(pool) or "lk_rt_pool-was-empty"
  return wrk.format(nil, nil, nil, "grant_type=refresh_token&refresh_token=" .. token)
end

function response(status, _, body)
  local successor = body and body:match('"refresh_token":"([^"]+)"')
  if status == 200 and successor then
    table.insert(pool, successor)
  end
end

function done(_, _, _)
  local out = assert(io.open(os.getenv("BENCH_POOL_OUT"), "w"))
  for _, thread in ipairs(threads) do
    for _, token in ipairs(thread:get("pool")) do
      out:write(token, "\n")
    end
  end
  out:close()
end
