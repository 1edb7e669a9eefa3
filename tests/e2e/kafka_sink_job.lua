-- kafka_sink_job.lua — scripts/url_count.lua writing to a Kafka topic declared in the job
-- (sluice.sink.kafka), for tests/e2e/kafka_sink.sh: sluice run kafka_sink_job.lua --input F -- BROKERS TOPIC
-- DELIVERY TIMEOUT_MS
local sluice = require "sluice"

local fields = { "url", "count" }

return sluice.job "url-count"
  :key_by "url"
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit_fields(fields, rec.url, c)
  end)
  :sink(sluice.sink.kafka { brokers = sluice.args[1], topic = sluice.args[2], key = "url",
    delivery = sluice.args[3], timeout_ms = tonumber(sluice.args[4]) })
