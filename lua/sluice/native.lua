-- sluice.native — the C functions of libsluice that Lua calls through the FFI, and the library handle.
--
-- Inside the `sluice` executable libsluice.so is already loaded with global symbols, so ffi.C finds them.
-- Anywhere else (busted specs run by plain luajit) the library is loaded from $SLUICE_LIB, so the specs
-- exercise exactly the same C code as the host. The declarations of the types and functions are in
-- sluice.cdefs (checked against the C layout by tests/lua/ffi_layout_spec.lua).
local ffi = require "ffi"
local fatal = require "sluice.fatal"
require "sluice.cdefs"

local M = {}

local function load_library()
  if rawget(_G, "SLUICE_HOST") then
    return ffi.C
  end
  local path = os.getenv("SLUICE_LIB")
  if not path then
    error("sluice.native: set SLUICE_LIB to the path of libsluice.so (the sluice executable sets it up itself)", 2)
  end
  -- Global, so that a job VM a spec starts in this process (sluice.testing) finds the same symbols
  -- through ffi.C, as it does inside the executable.
  return ffi.load(path, true)
end

M.C = load_library()

M.json_type = { null = 0, ["false"] = 1, ["true"] = 2, number = 3, string = 4, array = 5, object = 6 }
M.status = { ok = 0, notfound = 1, einval = -1, enomem = -2, eio = -3, efull = -4, ecorrupt = -5 }

-- The text for a state status code.
function M.strerror(rc)
  return ffi.string(M.C.sl_state_strerror(rc))
end

-- Statuses that are a failure of the state backend (out of memory, I/O, disk full, corrupt store), never
-- of the record being processed: they fail the job (sluice.fatal), so that no offset is committed past a
-- record whose effect was lost. EINVAL and the like stay ordinary errors (a misuse by the operator).
local BACKEND_FAILURE = { [M.status.enomem] = true, [M.status.eio] = true, [M.status.efull] = true,
  [M.status.ecorrupt] = true }

function M.is_backend_failure(rc)
  return BACKEND_FAILURE[rc] == true
end

-- Raises msg (prefixed with `where`, a "file:line: " or "") for status rc: a fatal error for a backend
-- failure, an ordinary error otherwise. Never returns.
function M.raise_status(rc, msg, where)
  if BACKEND_FAILURE[rc] then
    fatal.raise((where or "") .. msg, 0)
  end
  error((where or "") .. msg, 0)
end

local idp = ffi.new("uint32_t[1]")
local want_info, stored_info = ffi.new("sl_state_info"), ffi.new("sl_state_info")

-- Registers state `name` of operator `op` as kind code `kind` (sluice.state_registry) with or without TTL.
-- Returns its id (assigned on first use, kept forever); or nil, stored kind, stored ttl (boolean) when
-- the registry records the pair as another kind or TTL setting. A backend failure raises a fatal error,
-- a bad argument an ordinary one, both naming `what` ("state 'x' of operator 'op'").
function M.register_state(backend, op, name, kind, ttl, what)
  want_info.kind, want_info.ttl = kind, ttl and 1 or 0
  local rc = M.C.sl_backend_state_register(backend, op, name, want_info, idp, stored_info)
  if rc == 0 then
    return idp[0]
  elseif rc == M.status.einval and stored_info.kind ~= 0 then
    return nil, stored_info.kind, stored_info.ttl ~= 0
  end
  M.raise_status(rc, ("%s: %s"):format(what, M.strerror(rc)))
end

-- What the registry records for the pair, without assigning anything: kind code (0 = not recorded), ttl
-- (boolean); nil when it has no id yet. Failures raise as in register_state.
function M.lookup_state(backend, op, name, what)
  local rc = M.C.sl_backend_state_lookup(backend, op, name, idp, stored_info)
  if rc == 0 then
    return stored_info.kind, stored_info.ttl ~= 0
  elseif rc == M.status.notfound then
    return nil
  end
  M.raise_status(rc, ("%s: %s"):format(what, M.strerror(rc)))
end

return M
