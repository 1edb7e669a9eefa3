-- gen_access.lua N [SEED] [URLS] — deterministic nginx-like JSON access records for the tests (a self-
-- contained stand-in for ../shared/data/gen-records, so tests need nothing outside the repository).
local n = tonumber(arg[1]) or 1000
local seed = tonumber(arg[2]) or 1
local urls = tonumber(arg[3]) or 50
local state = seed
local function rand(m) -- a small LCG: deterministic across machines and LuaJIT versions
  state = (state * 1103515245 + 12345) % 2147483648
  return math.floor(state / 65536) % m
end
local methods = { "GET", "GET", "GET", "POST", "PUT" }
local out = {}
for i = 1, n do
  local t = 1555545600 + math.floor((i - 1) / 1000)
  local u = rand(urls)
  u = rand(2) == 0 and u % 5 or u -- skew: a few hot URLs
  out[#out + 1] = string.format(
    '{"@timestamp":"%s","remote_addr":"10.0.%d.%d","request":"%s","url":"/api/item/%d","status":%d,"body_bytes_sent":%d}',
    os.date("!%d/%b/%Y:%H:%M:%S", t), rand(256), rand(256), methods[rand(5) + 1], u,
    rand(20) == 0 and 404 or 200, 100 + rand(20000))
  if #out == 1000 then
    io.write(table.concat(out, "\n"), "\n")
    out = {}
  end
end
if #out > 0 then io.write(table.concat(out, "\n"), "\n") end
