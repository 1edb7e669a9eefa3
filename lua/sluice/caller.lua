-- sluice.caller — where an error belongs: the first stack frame outside sluice's own Lua files.
--
-- An error a user can fix (state used without key_by, a misspelt option, an unstorable value) must name the
-- line of the job script that caused it, not a line of lua/sluice/. error(msg, level) needs the exact
-- depth of that frame, which tail calls (`return handle(...)`, `return fn(ctx, rec)`) and helpers shared
-- by several entry points make wrong; walking the stack for the first Lua frame whose file is not in this
-- directory is right however the call got there. Only error paths call this, never the per-record path.
local M = {}

-- "@/path/to/lua/sluice/": the source prefix of every module beside this one.
local own = (debug.getinfo(1, "S").source or ""):match("^(@.*/)[^/]*$")

local function is_user(info)
  local src = info.source or ""
  return (info.what == "Lua" or info.what == "main") and src:sub(1, 1) == "@" and
    (own == nil or src:sub(1, #own) ~= own)
end

-- "file:line: " of the first user frame above the caller, or "" when there is none (a call from the C
-- runtime with no job code on the stack, or a tail call from it).
function M.where()
  local level = 2
  while true do
    local info = debug.getinfo(level, "Sl")
    if not info then
      return ""
    end
    if is_user(info) and info.currentline and info.currentline > 0 then
      return info.short_src .. ":" .. info.currentline .. ": "
    end
    level = level + 1
  end
end

-- Raises msg as an ordinary error at the user's line (the record's or the script's fault). fallback
-- ("file:line", optional) is used when no user frame is on the stack: a job script's last call,
-- `return sluice.job "x" ... :process(...)`, is a tail call, and LuaJIT keeps no frame of the script for it.
function M.error(msg, fallback)
  local where = M.where()
  if where == "" and fallback then
    where = fallback .. ": "
  end
  error(where .. msg, 0)
end

-- M.where() without its ": ", or nil when there is no user frame.
function M.line()
  return M.where():match("^(.*): $")
end

-- Raises msg as a fatal error (sluice.fatal: the job fails, no record is rejected) at the user's line.
function M.fatal(msg)
  require("sluice.fatal").raise(M.where() .. msg, 0)
end

-- "file:line" where function fn was defined, or nil for a function of sluice's own files.
function M.defined(fn)
  local info = debug.getinfo(fn, "S")
  if info and is_user(info) then
    return info.short_src .. ":" .. info.linedefined
  end
  return nil
end

return M
