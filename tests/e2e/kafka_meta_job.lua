-- kafka_meta_job.lua — for tests/e2e/kafka_meta.sh: `sluice run kafka_meta_job.lua --input URL -- MODE`.
--   meta:   every record's sluice.meta (topic, partition, offset, key, timestamp, timestamp_type) beside its
--           fields url, ts and n, after a key_by (so a parallel job carries the metadata to the key's owner);
--           a record whose n is a multiple of 500 is rejected (its error line names its partition and offset)
--   window: records per url per tumbling second, event time from the Kafka timestamp
--   window-field: the same window with event time from the record's ts field (the file reference)
local sluice = require "sluice"

local mode = sluice.args[1]
local OOO = 60000

if mode == "meta" then
  local fields = { "url", "n", "ts", "topic", "partition", "offset", "key", "timestamp", "timestamp_type" }
  return sluice.job "kafka-meta"
    :key_by "url"
    :process("meta", function(ctx, rec)
      if rec.n % 500 == 0 then
        error(("rejected n=%d"):format(rec.n), 0)
      end
      local m = sluice.meta(rec)
      if not m then
        error("no metadata", 0)
      end
      ctx:emit_fields(fields, rec.url, rec.n, rec.ts, m.topic, m.partition, m.offset, m.key or "(none)",
        m.timestamp or -1, m.timestamp_type or "(none)")
    end)
end

local watermark = mode == "window" and { timestamp = "kafka", out_of_orderness_ms = OOO }
  or { field = "ts", format = "epoch_ms", out_of_orderness_ms = OOO }
local fields = { "url", "window_start", "count" }
return sluice.job "kafka-window"
  :source(sluice.source.input { watermark = watermark })
  :key_by "url"
  :window("per-second", sluice.window.tumbling { size_ms = 1000 }, {
    emit = function(ctx, w, count)
      ctx:emit_fields(fields, ctx:key(), w.start, count)
    end,
  })
