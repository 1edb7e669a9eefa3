-- sluice.kafka — the description of a Kafka source, from the job API (sluice.source.kafka { ... }) or from
-- an --input kafka://BROKERS/TOPIC?QUERY URL, checked here so that a bad one is reported before anything
-- connects. Both give the same table, which the C runtime reads (lua/lua_host.c) and core/source_kafka.c
-- opens:
--   { kind = "kafka", brokers = "h1:9092,h2:9092", topic = "access", group = "url-count" | nil,
--     start = "earliest" | "latest", options = { "key1", "value1", "key2", "value2", ... } }
-- options are librdkafka configuration properties (sorted by name, so that a reload compares them as equal).
local M = {}

local STARTS = { earliest = true, latest = true }

local function fail(msg, level)
  error(msg, level and level + 1 or 0)
end

-- Checks opts and returns the source's description; errors name the caller `level` frames up (nil: no
-- position, for a URL from the command line).
function M.spec(opts, level, what)
  what = what or "sluice.source.kafka"
  local lvl = level and level + 1
  if type(opts) ~= "table" then
    fail(what .. " needs { brokers = \"host:port,...\", topic = \"...\" [, group, start, options] }", lvl)
  end
  if type(opts.brokers) ~= "string" or opts.brokers == "" then
    fail(what .. ": brokers must be a non-empty string of host:port[,host:port...]", lvl)
  end
  if type(opts.topic) ~= "string" or not opts.topic:match("^[%w._-]+$") then
    fail(what .. ": topic must be a Kafka topic name (letters, digits, '.', '_', '-')", lvl)
  end
  if opts.group ~= nil and (type(opts.group) ~= "string" or opts.group == "") then
    fail(what .. ": group must be a non-empty string", lvl)
  end
  local start = opts.start or "earliest"
  if not STARTS[start] then
    fail(("%s: start is \"earliest\" or \"latest\", not %q"):format(what, tostring(start)), lvl)
  end
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
  return { kind = "kafka", brokers = opts.brokers, topic = opts.topic, group = opts.group, start = start,
    options = flat }
end

local function unescape(s)
  return (s:gsub("%%(%x%x)", function(h) return string.char(tonumber(h, 16)) end))
end

-- kafka://BROKERS/TOPIC[?group=G&start=earliest|latest&PROPERTY=VALUE...] into a description (M.spec);
-- every query parameter other than group and start is a librdkafka property.
function M.parse_url(url)
  local brokers, topic, query = url:match("^kafka://([^/?]+)/([^?]*)%??(.*)$")
  if not brokers then
    fail(("--input %s: a Kafka input is kafka://HOST:PORT[,HOST:PORT...]/TOPIC[?group=G&start=earliest|latest"
      .. "&PROPERTY=VALUE...]"):format(url))
  end
  local opts = { brokers = unescape(brokers), topic = unescape(topic), options = {} }
  for pair in query:gmatch("[^&]+") do
    local k, v = pair:match("^([^=]+)=(.*)$")
    if not k then
      fail(("--input %s: '%s' is not NAME=VALUE"):format(url, pair))
    end
    k, v = unescape(k), unescape(v)
    if k == "group" or k == "start" then
      opts[k] = v
    else
      opts.options[k] = v
    end
  end
  return M.spec(opts, nil, "--input " .. url)
end

return M
