-- Operator state and declared states: :process(uid, { state, operator_state, initialize, snapshot,
-- process }) (lua/sluice/init.lua, pipeline.lua, operator_state.lua, host.snapshot_hooks), the job
-- description of every state, and the C redistribution through the FFI (state/operator_state.c).
local ffi = require "ffi"
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"

local C = H.C

local function job_with_hooks(log)
  return sluice.job "ops"
    :key_by "k"
    :process("buf", {
      state = { n = sluice.state.value { default = 0 }, items = sluice.state.list {},
        total = sluice.state.reducing { reduce = function(a, b) return a + b end },
        seen = sluice.state.map {},
        avg = sluice.state.aggregating { create = function() return { 0, 0 } end,
          add = function(v, a) return { a[1] + v, a[2] + 1 } end, result = function(a) return a[1] / a[2] end } },
      operator_state = { buffered = sluice.state.operator_list { mode = "union" } },
      initialize = function(ctx, restored) log.restored = restored.buffered end,
      snapshot = function(ctx) log.snapshots = (log.snapshots or 0) + 1 end,
      process = function(ctx, rec)
        local s = ctx.state
        s.n:update(s.n:value() + 1)
        s.items:add(rec.v)
        s.total:add(rec.v)
        s.seen:put(rec.v, true)
        s.avg:add(rec.v)
        ctx.operator_state.buffered:add(rec.v)
        ctx:emit({ k = ctx:key(), n = s.n:value(), total = s.total:get(), avg = s.avg:get(),
          items = #s.items:totable() }, { "k", "n", "total", "avg", "items" })
      end,
    })
end

describe("declared state and operator state", function()
  local fx = H.state_each()

  it("describes every state of every operator without running records", function()
    local job = job_with_hooks({})
    local op = job.ops[2]
    local names = {}
    for _, d in ipairs(op.states) do names[#names + 1] = d.name .. ":" .. d.kind end
    assert.are.same({ "avg:aggregating", "items:list", "n:value", "seen:map", "total:reducing" }, names)
    assert.are.same({ { name = "buffered", kind = "operator_list", mode = "union" } }, op.operator_states)
  end)

  it("ctx.state handles work per key; hooks run at start and at snapshot; lists persist", function()
    local log = {}
    local job = job_with_hooks(log)
    local buf = H.buf()
    local head = pipeline.compile(job, { backend = fx.env.backend, buf = buf })
    assert.are.same({}, log.restored)
    H.run(head, H.batch({ '{"k": "a", "v": 2}', '{"k": "a", "v": 4}', '{"k": "b", "v": 1}' }))
    assert.are.same({ '{"k": "a", "n": 1, "total": 2, "avg": 2, "items": 1}',
      '{"k": "a", "n": 2, "total": 6, "avg": 3, "items": 2}',
      '{"k": "b", "n": 1, "total": 1, "avg": 1, "items": 1}' }, H.buf_lines(buf))
    pipeline.snapshot(job)
    assert.are.equal(1, log.snapshots)
    fx.env:commit()
    fx.env:reopen()
    local log2 = {}
    local job2 = job_with_hooks(log2)
    pipeline.compile(job2, { backend = fx.env.backend, buf = H.buf() })
    assert.are.same({ 2, 4, 1 }, log2.restored)
    assert.are.equal("OperatorListState<buffered> op=buf mode=union n=3",
      tostring(job2.ops[2].ctx.operator_state.buffered))
  end)

  it("undeclared names and bad declarations are errors", function()
    local job = job_with_hooks({})
    pipeline.compile(job, { backend = fx.env.backend, buf = H.buf() })
    assert.has_error(function() return job.ops[2].ctx.state.nope end)
    assert.has_error(function() sluice.job "x":key_by "k":process("p", { state = { a = 1 }, process = print }) end)
    assert.has_error(function() sluice.state.operator_list { mode = "random" } end)
    local unkeyed = sluice.job "y":process("p", { state = { a = sluice.state.list {} }, process = print })
    assert.has_error(function() pipeline.compile(unkeyed, { backend = fx.env.backend, buf = H.buf() }) end)
  end)

  it("redistributes even_split and union in C", function()
    local items = ffi.new("sl_op_item[5]")
    local strs = { "a", "b", "c", "d", "e" }
    for i = 0, 4 do items[i].data, items[i].len = strs[i + 1], 1 end
    local old = ffi.new("sl_op_list[2]")
    old[0].items, old[0].n = items, 2
    old[1].items, old[1].n = items + 2, 3
    local out = ffi.new("sl_op_list[3]")
    local function show()
      local parts = {}
      for j = 0, 2 do
        local s = ""
        for i = 0, tonumber(out[j].n) - 1 do s = s .. ffi.string(out[j].items[i].data, out[j].items[i].len) end
        parts[#parts + 1] = s
        C.sl_op_list_free(out[j])
      end
      return table.concat(parts, "|")
    end
    assert.are.equal(0, C.sl_op_state_redistribute(old, 2, 3, 0, out))
    assert.are.equal("ab|cd|e", show())
    assert.are.equal(0, C.sl_op_state_redistribute(old, 2, 3, 1, out))
    assert.are.equal("abcde|abcde|abcde", show())
  end)
end)
