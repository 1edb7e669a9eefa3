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
