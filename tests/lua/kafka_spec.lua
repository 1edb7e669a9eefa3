-- The Kafka source's description (lua/sluice/kafka.lua): sluice.source.kafka { ... } and --input
-- kafka://BROKERS/TOPIC?QUERY give the same table, with librdkafka properties sorted; bad ones are refused
-- with a message that says what is wrong.
local sluice = require "sluice"
local kafka = require "sluice.kafka"

describe("sluice.source.kafka", function()
  it("describes a topic, with defaults", function()
    local s = sluice.source.kafka { brokers = "h1:9092,h2:9092", topic = "access" }
    assert.same({ kind = "kafka", brokers = "h1:9092,h2:9092", topic = "access", start = "earliest",
      options = {} }, s)
  end)

  it("takes a group, a start and librdkafka options, sorted by name", function()
    local s = sluice.source.kafka { brokers = "b:1", topic = "t", group = "g", start = "latest",
      options = { ["security.protocol"] = "ssl", ["fetch.wait.max.ms"] = 10, ["check.crcs"] = true } }
    assert.equal("g", s.group)
    assert.equal("latest", s.start)
    assert.same({ "check.crcs", "true", "fetch.wait.max.ms", "10", "security.protocol", "ssl" }, s.options)
  end)

  it("refuses what is not a Kafka source, naming the caller's line", function()
    assert.has_error(function() sluice.source.kafka { topic = "t" } end)
    local ok, err = pcall(function() local _ = sluice.source.kafka { brokers = "b:1", topic = "bad topic" } end)
    assert.is_false(ok)
    assert.matches("topic must be a Kafka topic name", err)
    assert.matches("kafka_spec.lua:%d+:", err)
    ok, err = pcall(sluice.source.kafka, { brokers = "b:1", topic = "t", start = "committed" })
    assert.matches('start is "earliest" or "latest", not "committed"', err)
    ok, err = pcall(sluice.source.kafka, { brokers = "b:1", topic = "t", options = { [1] = "x" } })
    assert.matches("options maps librdkafka property names", err)
  end)
end)

describe("kafka:// inputs", function()
  it("parse into the same description", function()
    local s = kafka.parse_url("kafka://h1:9092,h2:9092/access?group=url-count&start=latest&session.timeout.ms=6000&client.id=a%20b")
    assert.same({ kind = "kafka", brokers = "h1:9092,h2:9092", topic = "access", group = "url-count",
      start = "latest", options = { "client.id", "a b", "session.timeout.ms", "6000" } }, s)
    assert.same(sluice.source.kafka { brokers = "b:1", topic = "t" }, kafka.parse_url("kafka://b:1/t"))
  end)

  it("take a partitions filter, as text or a list, ascending and without repeats", function()
    assert.equal("0,3,5", kafka.parse_url("kafka://b:1/t?partitions=5,0,3,3").partitions)
    assert.is_nil(kafka.parse_url("kafka://b:1/t?group=g").partitions)
    assert.equal("2,7", sluice.source.kafka { brokers = "b:1", topic = "t", partitions = { 7, 2 } }.partitions)
    for _, bad in ipairs { "", "1,,2", "-1", "a", "1.5" } do
      local ok, err = pcall(kafka.parse_url, "kafka://b:1/t?partitions=" .. bad)
      assert.is_false(ok)
      assert.matches("partitions is a non%-empty list of partition numbers", err)
    end
    local ok = pcall(sluice.source.kafka, { brokers = "b:1", topic = "t", partitions = {} })
    assert.is_false(ok)
  end)

  it("refuse a malformed URL with the expected form", function()
    local ok, err = pcall(kafka.parse_url, "kafka://b:1")
    assert.is_false(ok)
    assert.matches("kafka://HOST:PORT", err)
    ok, err = pcall(kafka.parse_url, "kafka://b:1/t?group")
    assert.matches("'group' is not NAME=VALUE", err)
    ok, err = pcall(kafka.parse_url, "kafka://b:1/t?start=middle")
    assert.matches("--input kafka://b:1/t%?start=middle: start is", err)
  end)
end)

describe("sluice.sink.kafka", function()
  it("describes a topic, exactly-once by default", function()
    local s = sluice.sink.kafka { brokers = "h1:9092", topic = "counts", key = "url" }
    assert.same({ kind = "kafka", brokers = "h1:9092", topic = "counts", key = "url", delivery = "exactly-once",
      timeout_ms = 60000, options = {} }, s)
    s = sluice.sink.kafka { brokers = "b:1", topic = "t", delivery = "at-least-once", timeout_ms = 5000,
      options = { ["linger.ms"] = 20, acks = "all" } }
    assert.equal("at-least-once", s.delivery)
    assert.equal(5000, s.timeout_ms)
    assert.is_nil(s.key)
    assert.same({ "acks", "all", "linger.ms", "20" }, s.options)
  end)

  it("refuses a bad delivery, key or timeout, naming the caller's line", function()
    local ok, err = pcall(function() local _ = sluice.sink.kafka { brokers = "b:1", topic = "t", delivery = "once" } end)
    assert.is_false(ok)
    assert.matches('delivery is "exactly%-once" or "at%-least%-once", not "once"', err)
    assert.matches("kafka_spec.lua:%d+:", err)
    ok, err = pcall(sluice.sink.kafka, { brokers = "b:1", topic = "t", key = 3 })
    assert.matches("key must be the name", err)
    ok, err = pcall(sluice.sink.kafka, { brokers = "b:1", topic = "t", timeout_ms = 10 })
    assert.matches("timeout_ms must be", err)
    ok, err = pcall(sluice.sink.kafka, { topic = "t" })
    assert.matches("brokers must be", err)
  end)
end)

describe("kafka:// outputs", function()
  it("parse into the same description", function()
    local s = kafka.parse_sink_url("kafka://h1:9092,h2:9092/counts?key=url&delivery=at-least-once&timeout_ms=3000&linger.ms=5")
    assert.same({ kind = "kafka", brokers = "h1:9092,h2:9092", topic = "counts", key = "url",
      delivery = "at-least-once", timeout_ms = 3000, options = { "linger.ms", "5" } }, s)
    assert.same(sluice.sink.kafka { brokers = "b:1", topic = "t" }, kafka.parse_sink_url("kafka://b:1/t"))
  end)

  it("refuse a malformed URL with the expected form", function()
    local ok, err = pcall(kafka.parse_sink_url, "kafka://b:1")
    assert.is_false(ok)
    assert.matches("a Kafka output is kafka://HOST:PORT", err)
    ok, err = pcall(kafka.parse_sink_url, "kafka://b:1/t?delivery=maybe")
    assert.matches("--output kafka://b:1/t%?delivery=maybe: delivery is", err)
    ok, err = pcall(kafka.parse_sink_url, "kafka://b:1/t?timeout_ms=soon")
    assert.matches("timeout_ms must be", err)
  end)
end)
