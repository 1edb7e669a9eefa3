-- dedup_spec.lua — scripts/dedup.lua under sluice.testing: keyed state with TTL in processing time.
-- Run with `sluice test scripts/spec`.
local testing = require "sluice.testing"

local script = testing.relative("../dedup.lua")

describe("dedup.lua", function()
  local h
  after_each(function()
    h:close()
  end)

  it("writes the first record of each id back byte for byte and drops repeats", function()
    h = testing.harness(script)
    h:push_lines { '{"request_id":"r1", "url":"/a"}', '{"request_id": "r2"}', '{"request_id":"r1", "url":"/b"}' }
    assert.same({ '{"request_id":"r1", "url":"/a"}', '{"request_id": "r2"}' }, h:output_lines())
    assert.is_true(h:state("dedup", "seen", "field:r1"))
  end)

  it("lets an id through again once its TTL has passed", function()
    h = testing.harness(script, { args = { "request_id", "1000" }, time = 5000 })
    h:push { request_id = "r1" }
    h:advance_processing_time(999)
    h:push { request_id = "r1" }                       -- still seen
    assert.equal(1, #h:output())
    h:advance_processing_time(1)                      -- seen at 5000, expired at 6000
    assert.is_nil(h:state("dedup", "seen", "field:r1"))
    h:push { request_id = "r1" }
    assert.equal(2, #h:output())
  end)

  it("takes state set by the test as the job's own", function()
    h = testing.harness(script)
    h:set_state("dedup", "seen", "field:r9", true)
    h:push { request_id = "r9" }
    assert.same({}, h:output())
  end)
end)
