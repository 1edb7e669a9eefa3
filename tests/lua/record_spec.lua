-- Lazy input records (lua/sluice/record.lua over lua/ffi_record.c and core/record/json_scan.c): every JSON type
-- read through the field index, the over-24-fields scan path, read-only records, totable and tostring.
local H = require "helpers"
local sluice = require "sluice"
local record = require "sluice.record"
local cjson = require "cjson"

describe("record field access", function()
  it("reads strings, with escapes decoded", function()
    local r = H.record([[{"plain": "/api/a", "esc": "a\"b\\c\/d\n\t\r\b\f", "empty": "", "uni": "caf\u00e9 \u20ac"}]])
    assert.are.equal("/api/a", r.plain)
    assert.are.equal("a\"b\\c/d\n\t\r\b\f", r.esc)
    assert.are.equal("", r.empty)
    assert.are.equal("café €", r.uni)
  end)

  it("decodes \\u surrogate pairs into one UTF-8 character", function()
    local r = H.record([[{"emoji": "x\ud83d\ude00y", "raw": "😀"}]])
    assert.are.equal("x\240\159\152\128y", r.emoji)
    assert.are.equal("\240\159\152\128", r.raw)
  end)

  it("keeps a \\u0000 escape as a zero byte", function()
    local r = H.record([[{"z": "a\u0000b"}]])
    assert.are.equal("a\0b", r.z)
    assert.are.equal(3, #r.z)
  end)

  it("reads the second of two escaped strings correctly after the first", function()
    -- sl_rec_string decodes escaped strings into one scratch buffer: each value must be copied out.
    local r = H.record([[{"a": "one\nx", "b": "two\tyy"}]])
    local a, b = r.a, r.b
    assert.are.equal("one\nx", a)
    assert.are.equal("two\tyy", b)
  end)

  it("reads numbers: integers, negatives, fractions, exponents, large integers", function()
    local r = H.record([[{"i": 42, "neg": -17, "zero": 0, "negzero": -0, "f": 12.5, "nf": -0.25,
      "e": 1.5e3, "E": -2.5E-3, "ep": 1e+2, "big": 9007199254740993, "huge": 12345678901234567890,
      "tiny": 5e-324}]])
    assert.are.equal(42, r.i)
    assert.are.equal("number", type(r.i))
    assert.are.equal(-17, r.neg)
    assert.are.equal(0, r.zero)
    assert.are.equal(0, r.negzero)
    assert.are.equal(12.5, r.f)
    assert.are.equal(-0.25, r.nf)
    assert.are.equal(1500, r.e)
    assert.are.equal(-0.0025, r.E)
    assert.are.equal(100, r.ep)
    -- Numbers are doubles: 2^53 + 1 rounds to 2^53, as any JSON reader into doubles does.
    assert.are.equal(2 ^ 53, r.big)
    assert.are.equal(12345678901234567890, r.huge)
    assert.are.equal(5e-324, r.tiny)
  end)

  it("reads true and false as booleans and null as nil", function()
    local r = H.record([[{"t": true, "f": false, "n": null}]])
    assert.is_true(r.t)
    assert.is_false(r.f)
    assert.is_nil(r.n)
  end)

  it("reads nested objects and arrays as fresh tables", function()
    local r = H.record([=[{"obj": {"a": 1, "b": {"c": [1, 2, {"d": "x"}]}}, "arr": [1, "two", true, [3]],
      "empty_o": {}, "empty_a": []}]=])
    local obj = r.obj
    assert.are.same({ a = 1, b = { c = { 1, 2, { d = "x" } } } }, obj)
    assert.are.same({ 1, "two", true, { 3 } }, r.arr)
    assert.are.same({}, r.empty_o)
    assert.are.same({}, r.empty_a)
    -- Each read decodes again: changing one result does not change the record.
    obj.a = 99
    assert.are.equal(1, r.obj.a)
    assert.are_not.equal(r.obj, r.obj)
  end)

  -- (A number index is pointer arithmetic on the `sl_rec *` cdata, done by the FFI before __index: not
  -- tested here.)
  it("returns nil for a missing field and for a non-string key", function()
    local r = H.record([[{"a": 1}]])
    assert.is_nil(r.b)
    assert.is_nil(r.A)
    assert.is_nil(r[""])
    assert.is_nil(r[true])
  end)

  it("finds keys written with escapes and keys that are prefixes of others", function()
    local r = H.record([[{"ur": 1, "url": "/u", "urls": 3, "k\u00e9y": "v", "q\"k": "quoted"}]])
    assert.are.equal(1, r.ur)
    assert.are.equal("/u", r.url)
    assert.are.equal(3, r.urls)
    assert.are.equal("v", r["kéy"])
    assert.are.equal("quoted", r['q"k'])
  end)

  it("gives the last value when a key repeats", function()
    local r = H.record([[{"a": 1, "b": 2, "a": 3}]])
    assert.are.equal(3, r.a)
    assert.are.equal(2, r.b)
  end)

  it("reads records of a batch independently", function()
    local batch = H.batch({ [[{"url": "/a", "n": 1}]], [[{"n": 2, "url": "/b"}]], [[{"other": true}]] })
    assert.are.equal("/a", batch:rec(1).url)
    assert.are.equal("/b", batch:rec(2).url)
    assert.is_nil(batch:rec(3).url)
    assert.are.equal(2, batch:rec(2).n)
    assert.is_true(batch:rec(3).other)
  end)

  it("is rejected by sl_batch_add when the line is not a JSON object", function()
    assert.has_error(function() H.batch({ "[1, 2]" }) end)
    assert.has_error(function() H.batch({ [[{"a": 1,}]] }) end)
    assert.has_error(function() H.batch({ [[{"a": "\ud83d"}]] }) end)
  end)
end)

describe("records with more fields than the index holds", function()
  -- SL_RECORD_INDEXED_FIELDS is 24: past it, look-ups scan the line (sl_json_find_scan).
  local function wide_line(n, extra)
    local parts = {}
    for i = 1, n do
      parts[#parts + 1] = ('"f%d": %d'):format(i, i * 10)
    end
    for _, p in ipairs(extra or {}) do
      parts[#parts + 1] = p
    end
    return "{" .. table.concat(parts, ", ") .. "}"
  end

  it("reads every field of a 24-field record through the index", function()
    local r = H.record(wide_line(24))
    for i = 1, 24 do
      assert.are.equal(i * 10, r["f" .. i])
    end
    assert.is_nil(r.f25)
  end)

  it("reads every field of a 40-field record, of every type", function()
    local r = H.record(wide_line(30, { [["s": "x\ny"]], [["t": true]], [["fa": false]], [["nu": null]],
      [["o": {"k": [1, 2]}]], [["k\u0065y": "escaped key"]], [["f1": "last wins"]] }))
    assert.are.equal("last wins", r.f1)
    for i = 2, 30 do
      assert.are.equal(i * 10, r["f" .. i])
    end
    assert.are.equal("x\ny", r.s)
    assert.is_true(r.t)
    assert.is_false(r.fa)
    assert.is_nil(r.nu)
    assert.are.same({ k = { 1, 2 } }, r.o)
    assert.are.equal("escaped key", r.key)
    assert.is_nil(r.missing)
    assert.is_nil(r.f31)
  end)

  it("keys a pipeline on a field past the index", function()
    local env = H.state_env()
    local s = env:scope()
    local r = H.record(wide_line(26, { [["user": "u\u00e9"]] }))
    assert.are.equal(0, H.C.sl_scope_key_from_field(s, r, "user", 4))
    assert.are.equal("ué", require("sluice.state").current_key(s))
    assert.are.equal(1, H.C.sl_scope_key_from_field(s, r, "nope", 4))
    env:close()
  end)
end)

describe("record objects", function()
  it("are read-only, and the error names the field", function()
    local r = H.record([[{"url": "/a"}]])
    local ok, err = pcall(function() r.url = "/b" end)
    assert.is_false(ok)
    assert.matches("read%-only", err)
    assert.matches("'url'", err)
    assert.matches("sluice.totable", err, 1, true)
    assert.are.equal("/a", r.url)
    assert.has_error(function() r.new_field = 1 end)
  end)

  it("are recognised by sluice.is_record, tables and strings are not", function()
    assert.is_true(sluice.is_record(H.record("{}")))
    assert.is_false(sluice.is_record({}))
    assert.is_false(sluice.is_record("{}"))
    assert.is_false(sluice.is_record(nil))
  end)

  it("convert to a table of every field with sluice.totable", function()
    local r = H.record([[{"url": "/a", "n": 2.5, "ok": true, "tags": ["x", "y"], "m": {"k": "v"}, "s": "a\u00e9"}]])
    local t = sluice.totable(r)
    assert.are.same({ url = "/a", n = 2.5, ok = true, tags = { "x", "y" }, m = { k = "v" }, s = "aé" }, t)
    t.url = "/changed"
    assert.are.equal("/a", r.url)
  end)

  it("keep a JSON null as cjson.null in totable (a present field with no value)", function()
    local t = sluice.totable(H.record([[{"a": null, "b": 1}]]))
    assert.are.equal(cjson.null, t.a)
    assert.are.equal(1, t.b)
  end)

  it("print as Record followed by their line", function()
    local line = [[{"url": "/a",  "n": 1}]]
    local r = H.record(line)
    assert.are.equal("Record" .. line, tostring(r))
    assert.are.equal(line, sluice.line(r))
    assert.are.equal(line, record.line(r))
  end)

  it("give back their line byte for byte, CRLF included", function()
    local line = "{\"a\": \"x\"}\r"
    local r = H.record(line)
    assert.are.equal(line, sluice.line(r))
    assert.are.equal("x", r.a)
  end)
end)
