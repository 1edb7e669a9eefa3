-- State kinds checked against the backend's registry (lua/sluice/state_registry.lua, pipeline.lua over
-- sl_backend_state_register): one name used as two kinds in one operator fails the job naming both; a
-- job whose declared state is stored as another kind (or TTL setting) does not start, and registers
-- nothing; a state first used as another kind than stored fails the job (a fatal error, not a rejected
-- record); an older registry without kinds is accepted and then records them. Backend failures raised
-- by state calls, and by an on_timer, are fatal errors.
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"
local state = require "sluice.state"
local base = require "sluice.state_base"
local native = require "sluice.native"
local fatal = require "sluice.fatal"
local ffi = require "ffi"

local C = H.C

-- Runs f, which must fail; returns the error object. fatal: whether it must be a fatal error object.
local function fails(f, is_fatal)
  local ok, err = pcall(f)
  assert.is_false(ok, "expected an error")
  assert.are.equal(is_fatal, fatal.is(err), "fatal: " .. tostring(err))
  fatal.pending = nil
  return tostring(err)
end

local function has(text, part)
  assert(text:find(part, 1, true), ("%q lacks %q"):format(text, part))
end

local function lookup(backend, op, name)
  local id, info = ffi.new("uint32_t[1]"), ffi.new("sl_state_info")
  local rc = C.sl_backend_state_lookup(backend, op, name, id, info)
  if rc == native.status.notfound then
    return nil
  end
  assert.are.equal(0, rc)
  return info.kind, info.ttl ~= 0
end

-- A job with state "x" declared as `desc`, a ListState "y" and, when `extra` is given, a state "z" of it.
local function declared_job(desc, extra)
  return sluice.job "compat"
    :key_by "k"
    :process("p", {
      state = { x = desc, y = sluice.state.list {}, z = extra },
      process = function(ctx, rec) ctx:emit({ k = ctx:key() }, { "k" }) end,
    })
end

describe("one name, one kind, in one operator", function()
  local fx = H.state_each { buf = true }

  it("fails the job when a name is used as a ValueState and then as a MapState", function()
    local line
    local job = sluice.job "two"
      :key_by "k"
      :process("p", function(ctx, rec)
        ctx:value("x", 0):update(1)
        line = debug.getinfo(1, "l").currentline + 1
        ctx:map("x"):put("a", 1)
      end)
    local head = fx:compile(job)
    local err = fails(function() H.run(head, H.batch({ '{"k": "a"}' })) end, true)
    has(err, "state 'x' of operator 'p' is used as ValueState and as MapState")
    has(err, "state_compat_spec.lua:" .. line .. ":")
  end)

  it("fails the job when a declared ValueState is used as a MapState", function()
    local job = sluice.job "two"
      :key_by "k"
      :process("p", { state = { x = sluice.state.value { default = 0 } },
        process = function(ctx, rec) ctx:map("x"):put(1, 2) end })
    local head = fx:compile(job)
    local err = fails(function() H.run(head, H.batch({ '{"k": "a"}' })) end, true)
    has(err, "state 'x' of operator 'p' is used as ValueState and as MapState")
  end)

  it("lets the same name be a state of each of two operators", function()
    local job = sluice.job "two"
      :key_by "k"
      :process("p", function(ctx, rec) ctx:value("x", 0):update(1); ctx:emit(rec) end)
      :process("q", function(ctx, rec) ctx:map("x"):put(1, 2) end)
    H.run(fx:compile(job), H.batch({ '{"k": "a"}' }))
    assert.are.equal(1, (lookup(fx.env.backend, "p", "x")))
    assert.are.equal(2, (lookup(fx.env.backend, "q", "x")))
  end)
end)

describe("restored state of another kind", function()
  local fx = H.state_each { buf = true }

  -- Runs job A once on the fixture's backend and commits, as a checkpoint would, then reopens.
  local function run_and_commit(job)
    H.run(fx:compile(job), H.batch({ '{"k": "a"}', '{"k": "b"}' }))
    fx.env:commit(0)
    fx.env:reopen()
  end

  it("refuses to build a job that declares a stored ValueState as a MapState, registering nothing", function()
    run_and_commit(declared_job(sluice.state.value { default = 0 }))
    local job = declared_job(sluice.state.map {}, sluice.state.map {})
    local err = fails(function() fx:compile(job) end, false)
    has(err, "state 'x' of operator 'p' is stored as ValueState, the job now uses it as MapState")
    has(err, "state_compat_spec.lua:") -- the operator's line
    -- Nothing of the refused job was registered (states are registered only once every one passed its
    -- check): its new state z stays unknown to the backend.
    assert.are.equal(3, (lookup(fx.env.backend, "p", "y"))) -- a ListState, from the first job
    assert.is_nil(lookup(fx.env.backend, "p", "z"))
  end)

  it("refuses a changed TTL setting, naming it", function()
    run_and_commit(declared_job(sluice.state.value { default = 0 }))
    local err = fails(function() fx:compile(declared_job(sluice.state.value { default = 0, ttl = 1000 })) end,
      false)
    has(err, "stored as ValueState without TTL, the job now uses it as ValueState with TTL")
  end)

  it("refuses operator state restored as keyed state, and timer queues used as state", function()
    run_and_commit(sluice.job "j":key_by "k":process("p", {
      operator_state = { pending = sluice.state.operator_list {} },
      process = function() end, on_timer = function() end }))
    local err = fails(function()
      fx:compile(sluice.job "j":key_by "k":process("p", { state = { pending = sluice.state.list {} },
        process = function() end }))
    end, false)
    has(err, "state 'pending' of operator 'p' is stored as OperatorListState, the job now uses it as ListState")
    err = fails(function()
      fx:compile(sluice.job "j":key_by "k":process("p", {
        state = { ["sluice.timers.event"] = sluice.state.value {} }, process = function() end }))
    end, false)
    has(err, "is stored as timer queue, the job now uses it as ValueState")
  end)

  it("fails the job (not the record) when a state first used in the operator was stored as another kind", function()
    run_and_commit(sluice.job "j":key_by "k":process("p", function(ctx) ctx:value("x", 0):update(1) end))
    local line
    local job = sluice.job "j":key_by "k":process("p", function(ctx, rec)
      line = debug.getinfo(1, "l").currentline + 1
      ctx:map("x"):put(rec.k, 1)
    end)
    local head = fx:compile(job)
    local err = fails(function() H.run(head, H.batch({ '{"k": "a"}' })) end, true)
    has(err, "state_compat_spec.lua:" .. line .. ": state 'x' of operator 'p' is stored as ValueState, "
      .. "the job now uses it as MapState")
  end)

  it("accepts the same kinds again, and keeps the state", function()
    local job = sluice.job "j":key_by "k":process("p", {
      state = { n = sluice.state.value { default = 0 } },
      process = function(ctx, rec)
        local n = ctx.state.n:value() + 1
        ctx.state.n:update(n)
        ctx:emit({ k = ctx:key(), n = n }, { "k", "n" })
      end })
    run_and_commit(job)
    fx:take()
    H.run(fx:compile(job), H.batch({ '{"k": "a"}' }))
    assert.are.same({ '{"k": "a", "n": 2}' }, fx:take())
  end)

  it("accepts a registry without kinds (an older sluice), then records them", function()
    local id = ffi.new("uint32_t[1]")
    assert.are.equal(0, C.sl_backend_state_id(fx.env.backend, "p", "x", id))
    fx.env:commit(0)
    assert.are.equal(0, (lookup(fx.env.backend, "p", "x")))
    fx:compile(declared_job(sluice.state.map {}))
    assert.are.equal(2, (lookup(fx.env.backend, "p", "x")))
    fx.env:commit(0)
    fx.env:reopen()
    local err = fails(function() fx:compile(declared_job(sluice.state.value {})) end, false)
    has(err, "stored as MapState, the job now uses it as ValueState")
  end)
end)

describe("backend failures are the job's, not the record's", function()
  local fx = H.state_each { key = "k1" }

  it("state calls raise a fatal error for ENOMEM, EIO, EFULL and ECORRUPT, an ordinary one for EINVAL", function()
    local v = state.new("value", fx.env.backend, fx.scope, "op", "n")
    for _, name in ipairs({ "enomem", "eio", "efull", "ecorrupt" }) do
      local err = fails(function() base.fail(v, native.status[name]) end, true)
      has(err, "ValueState<n> of operator 'op': " .. native.strerror(native.status[name]))
      has(err, "state_compat_spec.lua:")
    end
    local err = fails(function() base.fail(v, native.status.einval) end, false)
    has(err, "ValueState<n> of operator 'op'")
  end)

  it("native.raise_status maps statuses the same way", function()
    fails(function() native.raise_status(native.status.eio, "x") end, true)
    fails(function() native.raise_status(native.status.einval, "x") end, false)
  end)
end)

describe("a fatal error inside on_timer", function()
  local fx = H.state_each { buf = true }

  it("fails the timer firing instead of being collected as that timer's error", function()
    local job = sluice.job "t"
      :source(sluice.source.input { watermark = { field = "t", format = "epoch_ms", out_of_orderness_ms = 0 } })
      :key_by "k"
      :process("p", {
        process = function(ctx) ctx:event_timer_at(ctx:timestamp()) end,
        on_timer = function() fatal.raise("the backend failed", 0) end,
      })
    H.run(fx:compile(job), H.batch({ '{"k": "a", "t": 1}' }))
    local err = fails(function() pipeline.fire_timers(job, 0, true) end, true)
    has(err, "the backend failed")
  end)
end)
