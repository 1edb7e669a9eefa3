-- sluice.state_desc — state descriptors, declared once per operator and checked when the job is built:
--   sluice.state.value { default = 0, ttl = ... }      sluice.state.map { ttl = ... }
--   sluice.state.list { ttl = ... }                     sluice.state.reducing { reduce = fn, ttl = ... }
--   sluice.state.aggregating { create = fn, add = fn, result = fn, merge = fn (optional), ttl = ... }
--   sluice.state.operator_list { mode = "even_split" | "union" }   (operator state, see sluice.operator_state)
-- ttl is a number of ms, or { ms = N, update = "on_create_and_write" | "on_read_and_write",
-- visibility = "never_return_expired" | "return_expired_if_not_cleaned_up", cleanup_batch = entries
-- checked per background cleanup step (default 100, 0 = only cleanup on read) }.
-- An option a descriptor does not know (`defualt`, `tll`, a ttl sub-option) is an error naming it.
-- A descriptor is a plain table (the job description shows it as is); ttl_cdata turns its ttl into the
-- sl_ttl struct the C side reads.
local ffi = require "ffi"
local caller = require "sluice.caller"
local options = require "sluice.options"

local M = {}

local TTL_OPTIONS = { "ms", "update", "visibility", "cleanup_batch" }
local UPDATE = { on_create_and_write = 0, on_read_and_write = 1 }
local VISIBILITY = { never_return_expired = 0, return_expired_if_not_cleaned_up = 1 }

local function check_ttl(kind, ttl)
  if ttl == nil then
    return nil
  end
  if type(ttl) == "number" then
    ttl = { ms = ttl }
  end
  if type(ttl) ~= "table" or type(ttl.ms) ~= "number" or ttl.ms <= 0 then
    caller.error(("sluice.state.%s: ttl must be a number of ms > 0 or { ms = N, ... }"):format(kind))
  end
  options.check(ttl, TTL_OPTIONS, ("sluice.state.%s: ttl"):format(kind))
  local t = { ms = math.floor(ttl.ms), update = ttl.update or "on_create_and_write",
    visibility = ttl.visibility or "never_return_expired", cleanup_batch = ttl.cleanup_batch or 100 }
  if not UPDATE[t.update] then
    caller.error(("sluice.state.%s: ttl.update must be on_create_and_write or on_read_and_write"):format(kind))
  end
  if not VISIBILITY[t.visibility] then
    caller.error(("sluice.state.%s: ttl.visibility must be never_return_expired or "
      .. "return_expired_if_not_cleaned_up"):format(kind))
  end
  if type(t.cleanup_batch) ~= "number" or t.cleanup_batch < 0 or t.cleanup_batch ~= math.floor(t.cleanup_batch) then
    caller.error(("sluice.state.%s: ttl.cleanup_batch must be a whole number >= 0"):format(kind))
  end
  return t
end

local function need_fn(kind, opts, name, optional)
  local f = opts[name]
  if f == nil and optional then
    return nil
  end
  if type(f) ~= "function" then
    caller.error(("sluice.state.%s needs %s = function"):format(kind, name))
  end
  return f
end

-- The options each descriptor takes.
local OPTIONS = { value = { "default", "ttl" }, map = { "ttl" }, list = { "ttl" }, reducing = { "reduce", "ttl" },
  aggregating = { "create", "add", "result", "merge", "ttl" }, operator_list = { "mode" } }

local function opts_of(kind, opts)
  if opts ~= nil and type(opts) ~= "table" then
    caller.error(("sluice.state.%s expects an options table"):format(kind))
  end
  opts = opts or {}
  options.check(opts, OPTIONS[kind], "sluice.state." .. kind)
  return opts
end

function M.value(opts)
  opts = opts_of("value", opts)
  return { kind = "value", default = opts.default, ttl = check_ttl("value", opts.ttl) }
end

function M.map(opts)
  opts = opts_of("map", opts)
  return { kind = "map", ttl = check_ttl("map", opts.ttl) }
end

function M.list(opts)
  opts = opts_of("list", opts)
  return { kind = "list", ttl = check_ttl("list", opts.ttl) }
end

function M.reducing(opts)
  opts = opts_of("reducing", opts)
  return { kind = "reducing", reduce = need_fn("reducing", opts, "reduce"), ttl = check_ttl("reducing", opts.ttl) }
end

function M.aggregating(opts)
  opts = opts_of("aggregating", opts)
  return { kind = "aggregating", ttl = check_ttl("aggregating", opts.ttl), agg = {
    create = need_fn("aggregating", opts, "create"), add = need_fn("aggregating", opts, "add"),
    result = need_fn("aggregating", opts, "result"), merge = need_fn("aggregating", opts, "merge", true) } }
end

function M.operator_list(opts)
  opts = opts_of("operator_list", opts)
  local mode = opts.mode or "even_split"
  if mode ~= "even_split" and mode ~= "union" then
    caller.error("sluice.state.operator_list: mode must be \"even_split\" or \"union\"")
  end
  return { kind = "operator_list", mode = mode }
end

function M.is_descriptor(d)
  return type(d) == "table" and (d.kind == "value" or d.kind == "map" or d.kind == "list" or
    d.kind == "reducing" or d.kind == "aggregating")
end

-- The sl_ttl cdata for a checked ttl table (nil for nil). The caller keeps it alive as long as handles
-- point at it (sluice.state anchors it in the handle's info).
function M.ttl_cdata(t)
  if t == nil then
    return nil
  end
  return ffi.new("sl_ttl", { t.ms, UPDATE[t.update], VISIBILITY[t.visibility] })
end

return M
