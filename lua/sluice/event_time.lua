-- sluice.event_time — event time: the watermark strategy a source declares, and the time formats records
-- carry (parsed into epoch milliseconds, UTC).
--
--   sluice.source.input { watermark = { field = "@timestamp", format = "nginx", out_of_orderness_ms = 5000 } }
--   sluice.source.input { watermark = { timestamp = function(rec) return rec.ts * 1000 end } }
--   sluice.source.kafka { ..., watermark = { timestamp = "kafka", out_of_orderness_ms = 5000 } }
--
-- timestamp = "kafka" takes each record's Kafka message timestamp (sluice.meta(rec).timestamp); a record
-- without one (not from Kafka, or a message with none) fails like a record without its time field.
-- Formats: "nginx" ("18/Apr/2019:00:00:00", optionally followed by a zone like " +0200"; no zone = UTC),
-- "iso8601" ("2019-04-18T00:00:00[.sss][Z|+hh:mm]"), "epoch_s" and "epoch_ms" (a number or numeric string),
-- or a function(value) -> ms. The watermark follows Flink's bounded out-of-orderness strategy:
-- watermark = (max event time seen) - out_of_orderness_ms - 1, so a record exactly out_of_orderness_ms behind
-- the newest one is still on time, and a record is late when its time is <= the watermark.
local options = require "sluice.options"
local record = require "sluice.record"

local M = {}

local MONTHS = { Jan = 1, Feb = 2, Mar = 3, Apr = 4, May = 5, Jun = 6, Jul = 7, Aug = 8, Sep = 9, Oct = 10,
  Nov = 11, Dec = 12 }
local MONTH_NAMES = { "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" }

-- Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil): no os.time,
-- which would read the local time zone.
local function days_from_civil(y, m, d)
  if m <= 2 then
    y = y - 1
  end
  local era = math.floor(y / 400)
  local yoe = y - era * 400
  local mp = (m + 9) % 12
  local doy = math.floor((153 * mp + 2) / 5) + d - 1
  local doe = yoe * 365 + math.floor(yoe / 4) - math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
end

local function civil_from_days(z)
  z = z + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524) - math.floor(doe / 146096)) / 365)
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  return yoe + era * 400 + (m <= 2 and 1 or 0), m, d
end

local function epoch_ms(y, mo, d, h, mi, s, frac_ms, zone_min)
  return ((days_from_civil(y, mo, d) * 24 + h) * 60 + mi - zone_min) * 60000 + s * 1000 + frac_ms
end

-- "+0200", "-07:00", "Z", "" -> minutes east of UTC, or nil when malformed.
local function zone_minutes(z)
  if z == "" or z == "Z" then
    return 0
  end
  local sign, hh, mm = z:match("^([+-])(%d%d):?(%d%d)$")
  if not sign then
    return nil
  end
  local m = tonumber(hh) * 60 + tonumber(mm)
  return sign == "-" and -m or m
end

local parsers = {}

function parsers.nginx(v)
  local d, mon, y, h, mi, s, z = tostring(v):match("^(%d%d?)/(%a%a%a)/(%d%d%d%d):(%d%d):(%d%d):(%d%d)%s*(%S*)$")
  local mo, zm = MONTHS[mon], z and zone_minutes(z)
  if not (mo and zm) then
    return nil
  end
  return epoch_ms(tonumber(y), mo, tonumber(d), tonumber(h), tonumber(mi), tonumber(s), 0, zm)
end

function parsers.iso8601(v)
  local y, mo, d, h, mi, s, rest = tostring(v):match("^(%d%d%d%d)-(%d%d)-(%d%d)[T ](%d%d):(%d%d):(%d%d)(.*)$")
  if not y then
    return nil
  end
  local frac, z = rest:match("^%.(%d+)(.*)$")
  local ms = 0
  if frac then
    ms = math.floor(tonumber("0." .. frac) * 1000 + 0.5)
    rest = z
  end
  local zm = zone_minutes(rest)
  if not zm then
    return nil
  end
  return epoch_ms(tonumber(y), tonumber(mo), tonumber(d), tonumber(h), tonumber(mi), tonumber(s), ms, zm)
end

function parsers.epoch_s(v)
  local x = tonumber(v)
  return x and math.floor(x * 1000 + 0.5) or nil
end

function parsers.epoch_ms(v)
  local x = tonumber(v)
  return x and math.floor(x) or nil
end

-- Parses a time in `format` (a name above or a function) into epoch ms; nil when it does not parse.
function M.parse(v, format)
  local p = type(format) == "function" and format or parsers[format]
  if not p then
    error(("unknown time format '%s' (nginx, iso8601, epoch_s, epoch_ms or a function)"):format(tostring(format)), 2)
  end
  return p(v)
end

-- Formats epoch ms as UTC text: "nginx" (18/Apr/2019:00:00:00) or "iso8601" (2019-04-18T00:00:00.000Z).
function M.format(ms, format)
  local secs = math.floor(ms / 1000)
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local y, mo, d = civil_from_days(days)
  local h, mi, s = math.floor(rem / 3600), math.floor(rem % 3600 / 60), rem % 60
  if format == "nginx" then
    return ("%02d/%s/%04d:%02d:%02d:%02d"):format(d, MONTH_NAMES[mo], y, h, mi, s)
  elseif format == "iso8601" then
    return ("%04d-%02d-%02dT%02d:%02d:%02d.%03dZ"):format(y, mo, d, h, mi, s, ms - secs * 1000)
  end
  error(("cannot format time as '%s' (nginx or iso8601)"):format(tostring(format)), 2)
end

local WATERMARK_OPTIONS = { "field", "format", "timestamp", "out_of_orderness_ms" }

-- Checks a source's watermark option and returns the strategy: { get = fn(rec) -> ms, ooo = ms, spec }.
-- Raises (at `level`) naming what is wrong.
function M.strategy(w, level)
  level = (level or 1) + 1
  if type(w) ~= "table" then
    error("watermark must be a table { field = ..., format = ..., out_of_orderness_ms = ... }", level)
  end
  options.check(w, WATERMARK_OPTIONS, "watermark")
  local ooo = w.out_of_orderness_ms or 0
  if type(ooo) ~= "number" or ooo < 0 or ooo ~= math.floor(ooo) then
    error("watermark.out_of_orderness_ms must be a whole number >= 0", level)
  end
  local get
  if w.timestamp == "kafka" then
    if w.field ~= nil or w.format ~= nil then
      error("watermark: timestamp = \"kafka\" takes no field or format", level)
    end
    local timestamp = record.timestamp
    get = function(rec)
      local ts = timestamp(rec)
      if ts == nil then
        error("event time: the record has no Kafka timestamp (watermark timestamp = \"kafka\")", 0)
      end
      return ts
    end
  elseif w.timestamp ~= nil then
    if type(w.timestamp) ~= "function" then
      error("watermark.timestamp must be a function(rec) -> epoch ms, or \"kafka\"", level)
    end
    get = w.timestamp
  else
    local field, format = w.field, w.format or "epoch_ms"
    if type(field) ~= "string" or field == "" then
      error("watermark needs a field (or a timestamp function)", level)
    end
    local parse = type(format) == "function" and format or parsers[format]
    if not parse then
      error(("watermark.format: unknown time format '%s'"):format(tostring(format)), level)
    end
    -- Consecutive records mostly share a timestamp text: remember the last one parsed.
    local last_v, last_ms
    get = function(rec)
      local v = rec[field]
      if v == nil then
        error(("event time: record has no field '%s'"):format(field), 0)
      end
      if v ~= last_v then
        local ms = parse(v)
        if ms == nil then
          error(("event time: field '%s' = %s is not a %s time"):format(field, tostring(v), tostring(format)), 0)
        end
        last_v, last_ms = v, ms
      end
      return last_ms
    end
  end
  return { get = get, ooo = ooo, spec = w }
end

return M
