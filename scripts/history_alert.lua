-- history_alert.lua — per consumer, alert when its lag grows by more than N % over its previous record.
--
-- Compares each record with what was seen before for the same key: the previous lag of every consumer is
-- keyed ValueState (key = consumer). Input is the lag job's output ({"timestamp", "lag": {consumer: n}}) or
-- the raw offsets records ({"timestamp", "offset": {"producer": p, consumer: o}}, lag = p - o):
--   in:  {"timestamp": 1, "lag": {"c0": 10}}   {"timestamp": 2, "lag": {"c0": 16}}
--   out: {"timestamp": 2, "consumer": "c0", "previous": 10, "lag": 16, "growth_pct": 60}
-- A previous lag of 0 alerts on any growth (growth_pct is then left out). N defaults to 50.
--
--   sluice run scripts/history_alert.lua --input lag.jsonl [-- N]
local sluice = require "sluice"

local threshold = tonumber(sluice.args[1] or "50")
local fields = { "timestamp", "consumer", "previous", "lag", "growth_pct" }

local function round2(x)
  return math.floor(x * 100 + 0.5) / 100
end

return sluice.job "history-alert"
  -- One record per consumer, so that each is keyed by its consumer; natural order keeps output stable.
  :flat_map("per-consumer", function(rec, out)
    local lag, offset = rec.lag, rec.offset
    if type(lag) ~= "table" then
      if type(offset) ~= "table" or type(offset.producer) ~= "number" then
        error("record has neither a lag object nor offset.producer", 0)
      end
      lag = {}
      for consumer, at in pairs(offset) do
        if consumer ~= "producer" then
          lag[consumer] = offset.producer - at
        end
      end
    end
    local names = {}
    for consumer in pairs(lag) do names[#names + 1] = consumer end
    table.sort(names, function(a, b)
      local pa, na = a:match("^(.-)(%d*)$")
      local pb, nb = b:match("^(.-)(%d*)$")
      if pa ~= pb or na == "" or nb == "" then return a < b end
      return tonumber(na) < tonumber(nb)
    end)
    for _, consumer in ipairs(names) do
      out({ timestamp = rec.timestamp, consumer = consumer, lag = lag[consumer] })
    end
  end)
  :key_by "consumer"
  :process("alert", {
    state = { previous = sluice.state.value {} },
    process = function(ctx, rec)
      local prev = ctx.state.previous:value()
      ctx.state.previous:update(rec.lag)
      if prev == nil or rec.lag <= prev then
        return
      end
      local growth = prev > 0 and (rec.lag - prev) * 100 / prev or nil
      if growth == nil or growth > threshold then
        ctx:emit({ timestamp = rec.timestamp, consumer = rec.consumer, previous = prev, lag = rec.lag,
          growth_pct = growth and round2(growth) }, fields)
      end
    end,
  })
