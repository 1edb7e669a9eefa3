-- url_count_spec.lua — a spec for scripts/url_count.lua, and an example of testing a job with
-- sluice.testing: run it with `sluice test scripts/spec` (or `sluice test` from scripts/).
local testing = require "sluice.testing"

local script = testing.relative("../url_count.lua")

describe("url_count.lua", function()
  local h
  after_each(function()
    h:close()
  end)

  it("emits the running count of each URL", function()
    h = testing.harness(script)
    h:push_lines {
      '{"url": "/api/a", "request": "GET"}',
      { url = "/api/b" },
      { url = "/api/a" },
    }
    assert.same({ { url = "/api/a", count = 1 }, { url = "/api/b", count = 1 }, { url = "/api/a", count = 2 } },
      h:take_output())
    h:push { url = "/api/a" }
    assert.same({ '{"url": "/api/a", "count": 3}' }, h:output_lines())
  end)

  it("keeps the count in keyed state, which a test can read and set", function()
    h = testing.harness(script)
    h:push_lines { { url = "/a" }, { url = "/a" } }
    assert.equal(2, h:state("count", "count", "/a"))
    assert.is_nil(h:state("count", "count", "/never"))
    h:set_state("count", "count", "/b", 41)
    h:push { url = "/b" }
    assert.same({ url = "/b", count = 42 }, h:output()[3])
  end)

  it("counts by the field given as its argument", function()
    h = testing.harness(script, { args = { "request" } })
    h:push_lines { { request = "GET" }, { request = "POST" }, { request = "GET" } }
    assert.same({ 1, 1, 2 }, { h:output()[1].count, h:output()[2].count, h:output()[3].count })
    assert.equal(2, h:state("count", "count", "GET"))
  end)

  it("rejects a record without the field and goes on", function()
    h = testing.harness(script)
    h:push_lines { { url = "/a" }, { path = "/x" }, "not json", { url = "/a" } }
    assert.same({ { url = "/a", count = 1 }, { url = "/a", count = 2 } }, h:output())
    local rejects = {}                     -- as a run's dead-letter file: line, error, record
    for _, r in ipairs(h:rejects()) do
      rejects[r.line] = r
    end
    assert.matches("record has no field 'url'", rejects[2].error)
    assert.equal('{"path": "/x"}', rejects[2].record)
    assert.matches("invalid JSON at byte 0", rejects[3].error)
  end)

  it("goes on from a checkpoint after a restart, forgetting what came after it", function()
    h = testing.harness(script)
    h:push_lines { { url = "/a" }, { url = "/a" } }
    local chk = h:checkpoint()
    h:push { url = "/a" }                    -- lost in the "crash"
    assert.equal(3, h:state("count", "count", "/a"))
    h:restart(chk)
    assert.equal(2, h:state("count", "count", "/a"))
    h:push { url = "/a" }
    assert.same({ { url = "/a", count = 3 } }, h:output())
  end)
end)
