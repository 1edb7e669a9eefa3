-- online_model.lua — per-URL running mean and variance of body_bytes_sent, and each request's z-score.
--
-- An online model updated record by record: Welford's algorithm keeps { n, mean, m2 } per URL in keyed
-- ValueState (one table), which is numerically stable and needs no history:
--   in:  {"url": "/api/a", "body_bytes_sent": 1200, ...}
--   out: {"url": "/api/a", "bytes": 1200, "n": 3, "mean": 1100, "stddev": 81.65, "z": 1.22}
-- stddev is the population standard deviation after this record; z = (bytes - mean before this record) /
-- stddev before it, 0 while there is not enough history (n < 2 or stddev 0). Numbers are rounded to 2
-- decimals for output only; the model keeps full precision.
--
--   sluice run scripts/online_model.lua --input access.log
local sluice = require "sluice"

local fields = { "url", "bytes", "n", "mean", "stddev", "z" }

local function round2(x)
  return math.floor(x * 100 + 0.5) / 100
end

return sluice.job "online-model"
  :filter(function(rec) return type(rec.body_bytes_sent) == "number" end)
  :key_by "url"
  :process("model", {
    state = { model = sluice.state.value { default = { n = 0, mean = 0, m2 = 0 } } },
    process = function(ctx, rec)
      local st = ctx.state.model
      local m = st:value()
      local x = rec.body_bytes_sent
      local sd_before = m.n > 1 and math.sqrt(m.m2 / m.n) or 0
      local z = sd_before > 0 and (x - m.mean) / sd_before or 0
      m.n = m.n + 1
      local delta = x - m.mean
      m.mean = m.mean + delta / m.n
      m.m2 = m.m2 + delta * (x - m.mean)
      st:update(m)
      ctx:emit({ url = rec.url, bytes = x, n = m.n, mean = round2(m.mean), stddev = round2(math.sqrt(m.m2 / m.n)),
        z = round2(z) }, fields)
    end,
  })
