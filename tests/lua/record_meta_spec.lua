-- A Kafka record's metadata (core/record/record_batch.h sl_rec_meta, read by lua/sluice/record.lua through
-- lua/ffi_record.c): sluice.meta(rec) for records with and without it, and the Kafka timestamp as event time
-- (watermark timestamp = "kafka", lua/sluice/event_time.lua) driving a window, against the real bindings.
-- The metadata is attached with sl_batch_set_meta, as a source's sl_input hands it to the runtime.
local ffi = require "ffi"
local H = require "helpers"
local sluice = require "sluice"
local native = require "sluice.native"
local pipeline = require "sluice.pipeline"
local event_time = require "sluice.event_time"

local C = native.C
local anchors = {} -- the metadata and its strings outlive every record of this file

-- A batch of `lines` whose record i carries metas[i] ({ partition, offset, key, timestamp, type }; false: none).
local function kafka_batch(lines, metas)
  local b = H.batch(lines)
  for i, m in ipairs(metas) do
    if m then
      local e = ffi.new("sl_rec_meta")
      local topic, key = m.topic or "access", m.key
      anchors[#anchors + 1] = { e, topic, key }
      e.topic = topic
      e.key = key
      e.key_len = key and #key or 0
      e.partition = m.partition or 0
      e.offset = m.offset or 0
      e.timestamp = m.timestamp or -1
      e.timestamp_type = m.type or (m.timestamp and 1 or 0)
      assert(C.sl_batch_set_meta(b.b, i - 1, e) == 0)
    end
  end
  return b
end

describe("sluice.meta", function()
  it("gives a Kafka record's topic, partition, offset, key and timestamp", function()
    local b = kafka_batch({ '{"a": 1}', '{"a": 2}', '{"a": 3}' }, {
      { partition = 3, offset = 1234, key = "/api/a", timestamp = 1555545600123, type = 1 },
      { partition = 0, offset = 2 ^ 40, key = "k\0ey", timestamp = 0, type = 2 },
      { partition = 7, offset = 0 },
    })
    assert.are.same({ topic = "access", partition = 3, offset = 1234, key = "/api/a", timestamp = 1555545600123,
      timestamp_type = "create" }, sluice.meta(b:rec(1)))
    -- a key with a zero byte, an offset past 32 bits, a log-append time of 0 (the epoch is a time)
    assert.are.same({ topic = "access", partition = 0, offset = 2 ^ 40, key = "k\0ey", timestamp = 0,
      timestamp_type = "log_append" }, sluice.meta(b:rec(2)))
    -- no key, no timestamp
    assert.are.same({ topic = "access", partition = 7, offset = 0 }, sluice.meta(b:rec(3)))
  end)

  it("is nil for a record of another source and for a table", function()
    local b = kafka_batch({ '{"a": 1}', '{"a": 2}' }, { false, { offset = 5 } })
    assert.is_nil(sluice.meta(b:rec(1)))
    assert.are.equal(5, sluice.meta(b:rec(2)).offset)
    assert.is_nil(sluice.meta({ a = 1 }))
    assert.is_nil(sluice.meta(nil))
  end)

  it("refuses to set metadata on a record the batch does not hold", function()
    local b = H.batch({ '{"a": 1}' })
    assert.are.equal(-1, C.sl_batch_set_meta(b.b, 1, nil))
  end)
end)

describe("the Kafka timestamp as event time", function()
  local fx = H.state_each { buf = true }

  it("checks the option", function()
    assert.has_error(function() event_time.strategy({ timestamp = "kafka", field = "t" }) end,
      'watermark: timestamp = "kafka" takes no field or format')
    assert.has_error(function() event_time.strategy({ timestamp = "kfka" }) end,
      'watermark.timestamp must be a function(rec) -> epoch ms, or "kafka"')
    local s = event_time.strategy({ timestamp = "kafka", out_of_orderness_ms = 5 })
    assert.are.equal(5, s.ooo)
    local b = kafka_batch({ '{"t": 1}', '{"t": 2}' }, { { timestamp = 42 }, { offset = 1 } })
    assert.are.equal(42, s.get(b:rec(1)))
    assert.has_error(function() s.get(b:rec(2)) end,
      'event time: the record has no Kafka timestamp (watermark timestamp = "kafka")')
    assert.has_error(function() s.get(H.record('{"t": 3}')) end,
      'event time: the record has no Kafka timestamp (watermark timestamp = "kafka")')
  end)

  it("drives a tumbling window by the messages' timestamps, not the records' fields", function()
    local job = sluice.job "kafka-window"
      :source(sluice.source.kafka { brokers = "localhost:9092", topic = "access",
        watermark = { timestamp = "kafka", out_of_orderness_ms = 0 } })
      :key_by "u"
      :window("w", sluice.window.tumbling { size_ms = 100 }, {
        emit = function(ctx, w, n) ctx:emit({ u = ctx:key(), start = w.start, n = n }, { "u", "start", "n" }) end,
      })
    local head = fx:compile(job)
    -- the records' own "t" fields say otherwise: only the Kafka timestamps count
    local b = kafka_batch({ '{"u": "a", "t": 999}', '{"u": "a", "t": 0}', '{"u": "b", "t": 0}', '{"u": "a", "t": 0}' },
      { { timestamp = 10 }, { timestamp = 50 }, { timestamp = 120 }, { timestamp = 205 } })
    H.run(head, b)
    pipeline.fire_timers(job, 0, false) -- watermark 204: windows [0, 100) and [100, 200) fire
    assert.are.same({ '{"u": "a", "start": 0, "n": 2}', '{"u": "b", "start": 100, "n": 1}' }, fx:take())
    pipeline.fire_timers(job, 0, true)
    assert.are.same({ '{"u": "a", "start": 200, "n": 1}' }, fx:take())
  end)
end)
