-- plain_url_count.lua — what a user would write instead of sluice: LuaJIT + lua-cjson, counts in a Lua
-- table (nothing durable), one JSON line out per record in the same format as scripts/url_count.lua.
--   luajit tests/bench/plain_url_count.lua < access.log > out
local cjson = require "cjson"
local counts = {}
local out = io.stdout
local fmt = string.format
for line in io.lines() do
  local rec = cjson.decode(line)
  local url = rec.url
  local c = (counts[url] or 0) + 1
  counts[url] = c
  out:write(fmt('{"url": "%s", "count": %d}\n', url, c))
end
