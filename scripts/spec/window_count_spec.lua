-- window_count_spec.lua — scripts/window_count.lua under sluice.testing: event time, the watermark and
-- timers. Run with `sluice test scripts/spec`.
local testing = require "sluice.testing"

local script = testing.relative("../window_count.lua")

local function req(url, at)
  return { ["@timestamp"] = "18/Apr/2019:00:" .. at, url = url }
end

describe("window_count.lua", function()
  local h
  after_each(function()
    h:close()
  end)

  it("emits a minute's count once the watermark passes the minute's end", function()
    h = testing.harness(script, { args = { "0" } })   -- no out-of-orderness allowance
    h:push_lines { req("/a", "00:05"), req("/a", "00:30"), req("/b", "00:59") }
    assert.same({}, h:output())                       -- the minute is still open
    h:push(req("/a", "01:00"))                        -- its time moves the watermark past 00:00:59.999
    assert.same({
      { url = "/a", window_start = "18/Apr/2019:00:00:00", count = 2 },
      { url = "/b", window_start = "18/Apr/2019:00:00:00", count = 1 },
    }, h:take_output())
    h:finish()                                        -- the end of the input fires what is left
    assert.same({ { url = "/a", window_start = "18/Apr/2019:00:01:00", count = 1 } }, h:output())
  end)

  it("fires on a watermark from outside too", function()
    h = testing.harness(script)                       -- default: 5 s out of order allowed
    h:push(req("/a", "00:10"))
    h:advance_watermark(1555545600000 + 59999)        -- 18/Apr/2019:00:00:59.999 UTC in epoch ms
    assert.same({ { url = "/a", window_start = "18/Apr/2019:00:00:00", count = 1 } }, h:output())
  end)

  it("keeps open windows and their timers across a restart", function()
    h = testing.harness(script, { args = { "0" } })
    h:push(req("/a", "00:01"))
    local chk = h:checkpoint()
    h:restart(chk)
    h:push(req("/a", "00:02"))
    h:finish()
    assert.same({ { url = "/a", window_start = "18/Apr/2019:00:00:00", count = 2 } }, h:output())
  end)
end)
