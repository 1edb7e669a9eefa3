-- sluice.kafka — the description of a Kafka source, from the job API (sluice.source.kafka { ... }) or from
-- an --input kafka://BROKERS/TOPIC?QUERY URL, checked here so that a bad one is reported before anything
-- connects. Both give the same table, which the C runtime reads (lua/lua_host.c) and core/source_kafka.c
-- opens:
--   { kind = "kafka", brokers = "h1:9092,h2:9092", topic = "access", group = "url-count" | nil,
--     start = "earliest" | "latest", partitions = "0,3,5" | nil,
--     options = { "key1", "value1", "key2", "value2", ... } }
-- options are librdkafka configuration properties (sorted by name, so that a reload compares them as equal).
-- partitions (nil: every partition of the topic) is the ascending list of the only partitions read: one
-- child of `sluice group` reads one partition of the group's assignment (core/kafka_group.c).
-- A Kafka sink (sluice.sink.kafka { ... } or --output kafka://BROKERS/TOPIC?QUERY, core/sink_kafka.c) is
--   { kind = "kafka", brokers = ..., topic = ..., key = "url" | nil, delivery = "exactly-once" |
--     "at-least-once", timeout_ms = 60000, options = { ... } }
local M = {}

local STARTS = { earliest = true, latest = true }

local function fail(msg, level)
  error(msg, level and level + 1 or 0)
end

-- The librdkafka properties of opts.options as a flat, sorted array of name, value strings.
local function flat_options(opts, what, lvl)
  lvl = lvl and lvl + 1 -- one frame below the checked function
  local names = {}
  if opts.options ~= nil then
    if type(opts.options) ~= "table" then
      fail(what .. ": options must be a table of librdkafka properties", lvl)
    end
    for k, v in pairs(opts.options) do
      if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number" and type(v) ~= "boolean") then
        fail(what .. ": options maps librdkafka property names to strings, numbers or booleans", lvl)
      end
      names[#names + 1] = k
    end
  end
  table.sort(names)
  local flat = {}
  for _, k in ipairs(names) do
    flat[#flat + 1] = k
    flat[#flat + 1] = tostring(opts.options[k])
  end
  return flat
end

local function check_brokers_topic(opts, what, lvl)
  lvl = lvl and lvl + 1
  if type(opts.brokers) ~= "string" or opts.brokers == "" then
    fail(what .. ": brokers must be a non-empty string of host:port[,host:port...]", lvl)
  end
  if type(opts.topic) ~= "string" or not opts.topic:match("^[%w._-]+$") then
    fail(what .. ": topic must be a Kafka topic name (letters, digits, '.', '_', '-')", lvl)
  end
end

-- Checks opts and returns the source's description; errors name the caller `level` frames up (nil: no
-- position, for a URL from the command line).
function M.spec(opts, level, what)
  what = what or "sluice.source.kafka"
  local lvl = level and level + 1
  if type(opts) ~= "table" then
    fail(what .. " needs { brokers = \"host:port,...\", topic = \"...\" [, group, start, options] }", lvl)
  end
  check_brokers_topic(opts, what, lvl)
  if opts.group ~= nil and (type(opts.group) ~= "string" or opts.group == "") then
    fail(what .. ": group must be a non-empty string", lvl)
  end
  local start = opts.start or "earliest"
  if not STARTS[start] then
    fail(("%s: start is \"earliest\" or \"latest\", not %q"):format(what, tostring(start)), lvl)
  end
  return { kind = "kafka", brokers = opts.brokers, topic = opts.topic, group = opts.group, start = start,
    partitions = M.partition_list(opts.partitions, what, lvl), options = flat_options(opts, what, lvl) }
end

-- partitions as given (nil, an array of partition numbers, or their text "0,3,5") into the ascending,
-- duplicate-free text the C source reads, or nil for every partition.
function M.partition_list(given, what, lvl)
  if given == nil then
    return nil
  end
  lvl = lvl and lvl + 1
  local list = {}
  if type(given) == "string" then
    for item in (given .. ","):gmatch("([^,]*),") do
      list[#list + 1] = item:match("^%d+$") and tonumber(item) or item
    end
  elseif type(given) == "table" then
    for i = 1, #given do
      list[i] = given[i]
    end
  end
  local seen, out = {}, {}
  for _, p in ipairs(list) do
    if type(p) ~= "number" or p < 0 or p ~= math.floor(p) or p > 2147483647 then
      out = {}
      break
    end
    if not seen[p] then
      seen[p], out[#out + 1] = true, p
    end
  end
  if #out == 0 then
    fail(what .. ": partitions is a non-empty list of partition numbers (e.g. \"0,3,5\" or { 0, 3, 5 })", lvl)
  end
  table.sort(out)
  return table.concat(out, ",")
end

local DELIVERIES = { ["exactly-once"] = true, ["at-least-once"] = true }

-- Checks a sink's opts and returns its description (as M.spec does for a source).
function M.sink_spec(opts, level, what)
  what = what or "sluice.sink.kafka"
  local lvl = level and level + 1
  if type(opts) ~= "table" then
    fail(what .. " needs { brokers = \"host:port,...\", topic = \"...\" [, key, delivery, timeout_ms, "
      .. "options] }", lvl)
  end
  check_brokers_topic(opts, what, lvl)
  if opts.key ~= nil and (type(opts.key) ~= "string" or opts.key == "") then
    fail(what .. ": key must be the name of the output records' field that keys the messages", lvl)
  end
  local delivery = opts.delivery or "exactly-once"
  if not DELIVERIES[delivery] then
    fail(("%s: delivery is \"exactly-once\" or \"at-least-once\", not %q"):format(what, tostring(delivery)),
      lvl)
  end
  local timeout = opts.timeout_ms or 60000
  if type(timeout) == "string" then
    timeout = tonumber(timeout)
  end
  if type(timeout) ~= "number" or timeout < 100 or timeout > 3600000 or timeout % 1 ~= 0 then
    fail(what .. ": timeout_ms must be a whole number of milliseconds from 100 to 3600000", lvl)
  end
  return { kind = "kafka", brokers = opts.brokers, topic = opts.topic, key = opts.key, delivery = delivery,
    timeout_ms = timeout, options = flat_options(opts, what, lvl) }
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- The options of kafka://BROKERS/TOPIC?QUERY: own[NAME] query parameters are sluice's, every other one a
-- librdkafka property. flag names the option in errors ("--input"); form is the URL's expected shape.
local function url_options(url, flag, form, own)
  local brokers, topic, query = url:match("^kafka://([^/?]+)/([^?]*)%??(.*)$")
  if not brokers then
    fail(("%s %s: a Kafka %s is %s"):format(flag, url, flag == "--input" and "input" or "output", form))
  end
  local opts = { brokers = unescape(brokers), topic = unescape(topic), options = {} }
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]+)=(.*)$")
    if not k then
      fail(("%s %s: '%s' is not NAME=VALUE"):format(flag, url, pair))
    end
    k, v = unescape(k), unescape(v)
    if own[k] then
      opts[k] = v
    else
      opts.options[k] = v
    end
  end
  return opts
end

-- kafka://BROKERS/TOPIC[?group=G&start=earliest|latest&partitions=0,3&PROPERTY=VALUE...] into a description
-- (M.spec); every query parameter other than group, start and partitions is a librdkafka property.
function M.parse_url(url)
  local opts = url_options(url, "--input", "kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?group=G&start=earliest|"
    .. "latest&PROPERTY=VALUE...]", { group = true, start = true, partitions = true })
  return M.spec(opts, nil, "--input " .. url)
end

-- kafka://BROKERS/TOPIC[?key=FIELD&delivery=exactly-once|at-least-once&timeout_ms=MS&PROPERTY=VALUE...]
-- into a sink's description (M.sink_spec).
function M.parse_sink_url(url)
  local opts = url_options(url, "--output", "kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?key=FIELD&delivery="
    .. "exactly-once|at-least-once&timeout_ms=MS&PROPERTY=VALUE...]",
    { key = true, delivery = true, timeout_ms = true })
  return M.sink_spec(opts, nil, "--output " .. url)
end

return M
