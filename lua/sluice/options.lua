-- sluice.options — options tables checked by name: an option the callee does not know is an error naming
-- it (with the closest known name when one is close), not silently ignored. A misspelt `defualt` or `tll`
-- would otherwise give a state with no default or no TTL, and a job that runs wrong without a word.
local caller = require "sluice.caller"

local M = {}

-- Optimal string alignment distance (Levenshtein plus adjacent transpositions), so that both `tll` and
-- `defualt` are one edit away from what was meant.
local function distance(a, b)
  local d = {}
  for i = 0, #a do
    d[i] = { [0] = i }
  end
  for j = 1, #b do
    d[0][j] = j
  end
  for i = 1, #a do
    for j = 1, #b do
      local cost = a:byte(i) == b:byte(j) and 0 or 1
      local v = math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost)
      if i > 1 and j > 1 and a:byte(i) == b:byte(j - 1) and a:byte(i - 1) == b:byte(j) then
        v = math.min(v, d[i - 2][j - 2] + 1)
      end
      d[i][j] = v
    end
  end
  return d[#a][#b]
end

-- The known name closest to `name`, when it is close enough to be a typo (or a known name is `name` with
-- a suffix such as _ms, as `size` for `size_ms`); nil otherwise.
function M.suggest(name, known)
  local best, best_d
  for _, k in ipairs(known) do
    local d = distance(name, k)
    if k:sub(1, #name + 1) == name .. "_" then
      d = math.min(d, 1)
    end
    if d <= math.max(1, math.floor(#k / 3)) and (best_d == nil or d < best_d) then
      best, best_d = k, d
    end
  end
  return best
end

-- Raises an error at the user's line for the first key of opts (in sorted order) not in `known` (an
-- array of names). `what` names the callee ("sluice.state.value").
local sets = setmetatable({}, { __mode = "k" }) -- known array -> set of its names

function M.check(opts, known, what)
  local set = sets[known]
  if not set then
    set = {}
    for _, k in ipairs(known) do
      set[k] = true
    end
    sets[known] = set
  end
  local unknown
  for k in pairs(opts) do
    if not set[k] then
      unknown = unknown or {}
      unknown[#unknown + 1] = tostring(k)
    end
  end
  if not unknown then
    return
  end
  table.sort(unknown)
  local name = unknown[1]
  local hint = M.suggest(name, known)
  caller.error(("%s: unknown option '%s'%s (its options: %s)"):format(what, name,
    hint and (" (did you mean '" .. hint .. "'?)") or "", table.concat(known, ", ")))
end

return M
