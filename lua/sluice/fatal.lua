-- sluice.fatal — errors that fail the job instead of rejecting one record.
--
-- An operator's Lua error is the record's own fault: the runtime rejects that record and goes on. A failure
-- of the machinery under it (the state backend out of memory or failing its I/O, a state used as two kinds)
-- is not: the record did nothing wrong, and skipping it would commit its offset with its effect missing. Such
-- a failure is raised as a fatal error object, and it is also remembered here, so that an operator that
-- wraps a state call in pcall and ignores the error still fails the job when its batch ends. The runtime
-- (lua/lua_host.c) then stops the job with exit status 1; a restart redoes the work from the last checkpoint.
local M = {}

local Fatal = {}
Fatal.__index = Fatal
Fatal.__tostring = function(e)
  return e.message
end

-- The first fatal failure not yet reported to the runtime (a message), or nil.
M.pending = nil

-- Raises a fatal error with msg, prefixed with the position `level` frames above the caller (as error()
-- does for strings: 1 = the caller of raise).
function M.raise(msg, level)
  level = level or 1
  local where = ""
  if level > 0 then
    local info = debug.getinfo(level + 1, "Sl")
    if info and info.currentline and info.currentline > 0 then
      where = info.short_src .. ":" .. info.currentline .. ": "
    end
  end
  local e = setmetatable({ message = where .. msg, sluice_fatal = true }, Fatal)
  M.pending = M.pending or e.message
  error(e, 0)
end

-- True when e is a fatal error object.
function M.is(e)
  return type(e) == "table" and rawget(e, "sluice_fatal") == true
end

-- Raises the pending fatal failure, if any (and clears it): called by the host at the end of each call
-- from the runtime, so that a swallowed one still reaches it.
function M.check()
  local msg = M.pending
  if msg then
    M.pending = nil
    error(setmetatable({ message = msg, sluice_fatal = true }, Fatal), 0)
  end
end

return M
