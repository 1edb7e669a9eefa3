-- kafka_count_job.lua — scripts/url_count.lua reading a Kafka topic declared in the job
-- (sluice.source.kafka), for tests/e2e/kafka_source.sh: sluice run kafka_count_job.lua -- BROKERS TOPIC
local sluice = require "sluice"

local fields = { "url", "count" }

return sluice.job "url-count"
  :source(sluice.source.kafka { brokers = sluice.args[1], topic = sluice.args[2], group = "url-count-job",
    options = { ["fetch.wait.max.ms"] = 20 } })
  :key_by "url"
  :process("count", function(ctx, rec)
    local n = ctx:value("count", 0)
    local c = n:value() + 1
    n:update(c)
    ctx:emit_fields(fields, rec.url, c)
  end)
