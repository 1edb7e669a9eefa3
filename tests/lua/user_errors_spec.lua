-- Errors a user can fix name the user's own line, never one of lua/sluice/ (lua/sluice/caller.lua):
-- keyed state used without key_by, a window or state descriptor option that does not exist (with a "did
-- you mean" when one is close: sluice.options), an unstorable value given in a snapshot hook, and an
-- event-time window in a job with no watermark strategy (refused when the pipeline is built, not per
-- record).
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"
local options = require "sluice.options"

-- The error of f (which must fail), as a string.
local function err_of(f)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  require("sluice.fatal").pending = nil
  return tostring(err)
end

-- err must start with this spec's file:line (the line after the caller's, where the call under test is).
local function at_line(err, line)
  local where = err:match("^(.-:%d+): ")
  assert(where and where:find("user_errors_spec.lua:" .. line, 1, true),
    ("%q does not start with user_errors_spec.lua:%d"):format(err, line))
end

local function has(text, part)
  assert(text:find(part, 1, true), ("%q lacks %q"):format(text, part))
end

local function next_line()
  return debug.getinfo(2, "l").currentline + 1
end

describe("unknown descriptor options", function()
  it("are refused by name, with the option meant when it is close", function()
    local line = next_line()
    local err = err_of(function() local _ = sluice.state.value { defualt = 0 } end)
    at_line(err, line)
    has(err, "sluice.state.value: unknown option 'defualt' (did you mean 'default'?)")
    err = err_of(function() local _ = sluice.state.map { tll = 5000 } end)
    has(err, "sluice.state.map: unknown option 'tll' (did you mean 'ttl'?)")
    err = err_of(function() local _ = sluice.state.list { ttl = { ms = 5, updte = "on_read_and_write" } } end)
    has(err, "sluice.state.list: ttl: unknown option 'updte' (did you mean 'update'?)")
    err = err_of(function() local _ = sluice.state.value { ttl = { ms = 5, cleanup = 10 } } end)
    has(err, "unknown option 'cleanup' (did you mean 'cleanup_batch'?)")
    err = err_of(function() local _ = sluice.state.operator_list { mod = "union" } end)
    has(err, "unknown option 'mod' (did you mean 'mode'?)")
    err = err_of(function() local _ = sluice.state.reducing { reduce = math.max, colour = "red" } end)
    has(err, "sluice.state.reducing: unknown option 'colour' (its options: reduce, ttl)")
  end)

  it("include a source's watermark strategy", function()
    local line = next_line()
    local err = err_of(function() local _ = sluice.source.input { watermark = { field = "t", out_of_orderness = 5 } } end)
    at_line(err, line)
    has(err, "watermark: unknown option 'out_of_orderness' (did you mean 'out_of_orderness_ms'?)")
  end)

  it("suggests only names that are close", function()
    assert.are.equal("default", options.suggest("defualt", { "default", "ttl" }))
    assert.are.equal("ttl", options.suggest("tll", { "default", "ttl" }))
    assert.are.equal("size_ms", options.suggest("size", { "size_ms", "offset_ms", "time" }))
    assert.is_nil(options.suggest("colour", { "reduce", "ttl" }))
    assert.is_nil(options.suggest("x", { "ms" }))
  end)

  it("leaves every known option working", function()
    local d = sluice.state.value { default = 1, ttl = { ms = 5, update = "on_read_and_write",
      visibility = "return_expired_if_not_cleaned_up", cleanup_batch = 0 } }
    assert.are.equal(1, d.default)
    assert.are.equal("on_read_and_write", d.ttl.update)
  end)
end)

describe("errors name the job script's line", function()
  local fx = H.state_each { buf = true }

  it("keyed state in an operator without key_by", function()
    local line
    local job = sluice.job "nokey":process("p", function(ctx, rec)
      line = next_line()
      local n = ctx:value("n", 0)
      n:update(n:value() + 1)
    end)
    local head = fx:compile(job)
    local err = err_of(function() H.run(head, H.batch({ '{"k": "a"}' })) end)
    at_line(err, line)
    has(err, "operator 'p' is not keyed: add key_by before it to use keyed state")
  end)

  it("a declared keyed state in an operator without key_by, at the operator", function()
    local line = next_line()
    local job = sluice.job "nokey":process("p", { state = { n = sluice.state.value {} }, process = function() end })
    local err = err_of(function() fx:compile(job) end)
    at_line(err, line)
    has(err, "operator 'p' declares keyed state 'n' but is not keyed")
  end)

  it("a window option that does not exist", function()
    local line = next_line()
    local err = err_of(function() local _ = sluice.window.tumbling { size = 60000 } end)
    at_line(err, line)
    has(err, "sluice.window.tumbling: unknown option 'size' (did you mean 'size_ms'?)")
    local w = sluice.window.tumbling { size_ms = 1000 }
    line = next_line()
    err = err_of(function() local _ = sluice.window.operator(w, { agregate = {} }) end)
    at_line(err, line)
    has(err, "window spec: unknown option 'agregate' (did you mean 'aggregate'?)")
    err = err_of(function()
      local _ = sluice.window.operator(w, { aggregate = { create = print, add = print, reslt = print } })
    end)
    has(err, "window aggregate: unknown option 'reslt' (did you mean 'result'?)")
    line = next_line()
    err = err_of(function() local _ = sluice.window.tumbling { size_ms = 0 } end)
    at_line(err, line)
    has(err, "size_ms must be a whole number of ms >= 1")
  end)

  it("an unstorable value given to operator state in a snapshot hook", function()
    local line
    local job = sluice.job "snap":process("p", {
      operator_state = { pending = sluice.state.operator_list {} },
      snapshot = function(ctx)
        line = next_line()
        ctx.operator_state.pending:update({ { f = print } })
      end,
      process = function() end,
    })
    fx:compile(job)
    local err = err_of(function() pipeline.snapshot(job) end)
    at_line(err, line)
    has(err, "OperatorListState<pending>: cannot store this table value")
  end)

  it("an event-time window in a job with no watermark strategy, when the pipeline is built", function()
    local line = next_line()
    local job = sluice.job "w":key_by "url":window("per-minute", sluice.window.tumbling { size_ms = 60000 }, {})
    local err = err_of(function() fx:compile(job) end)
    at_line(err, line)
    has(err, "window 'per-minute' uses event time, but no source of job 'w' declares a watermark strategy")
    -- With a strategy, or in processing time, it builds.
    fx:compile(sluice.job "w2"
      :source(sluice.source.input { watermark = { field = "t", format = "epoch_ms", out_of_orderness_ms = 0 } })
      :key_by "url":window("per-minute", sluice.window.tumbling { size_ms = 60000 }, {}))
    fx:compile(sluice.job "w3":key_by "url"
      :window("per-minute", sluice.window.tumbling { size_ms = 60000, time = "processing" }, {}))
  end)

  it("a bad window assigner, at the :window call", function()
    local line = next_line()
    local err = err_of(function() local _ = sluice.job "x":key_by "k":window("w", { kind = "nope" }) end)
    at_line(err, line)
    has(err, "a window operator needs a sluice.window.tumbling/sliding/session assigner")
  end)

  it("at the job's first line when the error is in the script's last call (a tail call leaves no frame)", function()
    local script = H.tmpdir() .. "/job.lua"
    local f = assert(io.open(script, "w"))
    f:write('local sluice = require "sluice"\n', 'return sluice.job "tail"\n', '  :key_by "k"\n',
      '  :process("p", function() end)\n', '  :process("p", function() end)\n')
    f:close()
    -- Run in a coroutine of its own, as the host runs a script: no frame of this spec under it.
    local ok, err = coroutine.resume(coroutine.create(dofile), script)
    assert.is_false(ok)
    has(tostring(err), "job.lua:2: operator uid 'p' is used twice")
    H.rmdir(script:match("^(.*)/"))
  end)
end)
