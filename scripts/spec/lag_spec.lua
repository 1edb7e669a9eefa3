-- lag_spec.lua — scripts/lag.lua under sluice.testing: a stateless job, its output field order and its
-- rejects. Run with `sluice test scripts/spec`.
local testing = require "sluice.testing"

local script = testing.relative("../lag.lua")

describe("lag.lua", function()
  local h
  after_each(function()
    h:close()
  end)

  it("emits each consumer's lag, consumers in natural order", function()
    h = testing.harness(script)
    h:push '{"timestamp": 1555516800, "offset": {"producer": 15, "consumer10": 1, "consumer2": 7}}'
    assert.same({ '{"timestamp": 1555516800, "lag": {"consumer2": 8, "consumer10": 14}}' }, h:output_lines())
  end)

  it("rejects a record without a numeric producer offset, naming why", function()
    h = testing.harness(script)
    h:push_lines { { timestamp = 1, offset = { consumer0 = 1 } }, { timestamp = 2, offset = { producer = 5, c = 5 } } }
    assert.same({ { timestamp = 2, lag = { c = 0 } } }, h:output())
    local r = h:rejects()
    assert.equal(1, #r)
    assert.equal(1, r[1].line)
    assert.matches("operator 'lag': record has no numeric offset.producer", r[1].error)
  end)
end)
