-- sluice.state_registry — the kind of every state, checked against what the state backend recorded.
--
-- The backend's registry (state/state_backend.h) maps (operator uid, state name) to the state's id, and
-- records the kind the state was first used as and whether it has TTL. Bytes of one kind read as another
-- are garbage (a ValueState's value read as MapState entries, a value without its TTL header), so using a
-- stored name as another kind is refused — as Flink's state-compatibility check refuses a restored state
-- whose descriptor changed. The registry travels in every checkpoint and savepoint, so the check covers a
-- restart, a restore from a savepoint and a hot reload alike. A registry written before kinds were
-- recorded has none: the first use records it.
--
-- Where the refusal happens: states a job declares (process { state = ..., operator_state = ... }, and the
-- timer queues of an on_timer) are checked all together when the pipeline is built, before any is
-- registered, so a job that would misread its state does not start (and a reload is refused). A state
-- created at its first use (ctx:value("x")) is only known then: the mismatch fails the job
-- (sluice.fatal), never the record.
local native = require "sluice.native"

local M = {}

-- Kind codes, as sl_state_kind in state/state_backend.h.
M.KIND = { value = 1, map = 2, list = 3, reducing = 4, aggregating = 5, operator_list = 6, timers = 7 }

local NAMES = { "ValueState", "MapState", "ListState", "ReducingState", "AggregatingState",
  "OperatorListState", "timer queue" }

local function kind_name(code, ttl, show_ttl)
  local n = NAMES[code] or ("kind " .. tostring(code))
  if show_ttl then
    n = n .. (ttl and " with TTL" or " without TTL")
  end
  return n
end

local function what(op, name)
  return ("state '%s' of operator '%s'"):format(name, op)
end

-- The refusal message for a state recorded as (stored, stored_ttl) and now wanted as (kind, ttl).
function M.mismatch(op, name, stored, stored_ttl, kind, ttl)
  local show_ttl = stored == kind
  return ("%s is stored as %s, the job now uses it as %s: a state cannot change its kind%s (use it as "
    .. "before, or give the new state another name)"):format(what(op, name), kind_name(stored, stored_ttl, show_ttl),
    kind_name(kind, ttl, show_ttl), show_ttl and " or its TTL setting" or "")
end

-- The message for one name used as two kinds in one operator of one job.
function M.two_kinds(op, name, first, second)
  return ("%s is used as %s and as %s: one name is one state, of one kind (give each its own name)")
    :format(what(op, name), kind_name(M.KIND[first]), kind_name(M.KIND[second]))
end

-- Registers state `name` of operator `op` as `kind` (a key of M.KIND), ttl a boolean. Returns its id, or
-- nil and the refusal message when the registry records another kind or TTL setting.
function M.register(backend, op, name, kind, ttl)
  local code = assert(M.KIND[kind], kind)
  local id, stored, stored_ttl = native.register_state(backend, op, name, code, ttl, what(op, name))
  if id == nil then
    return nil, M.mismatch(op, name, stored, stored_ttl, code, ttl)
  end
  return id
end

-- Checks, without registering, that `name` of `op` may be used as `kind`: nil when it may, else the
-- refusal message.
function M.check(backend, op, name, kind, ttl)
  local code = assert(M.KIND[kind], kind)
  local stored, stored_ttl = native.lookup_state(backend, op, name, what(op, name))
  if stored == nil or stored == 0 or (stored == code and stored_ttl == (ttl and true or false)) then
    return nil
  end
  return M.mismatch(op, name, stored, stored_ttl, code, ttl)
end

return M
