-- JSON output (lua/sluice/encode.lua over core/record/json_write.c): the seed examples' format, projection and
-- field order, natural key order, arrays and objects, escaping, numbers, pass-through of input records.
local H = require "helpers"
local encode = require "sluice.encode"
local cjson = require "cjson"

local enc = encode.to_string

describe("encode", function()
  it("writes the seed examples' format: ', ' between members, ': ' after keys", function()
    assert.are.equal('{"url": "/api/a", "count": 1}', enc({ url = "/api/a", count = 1 }, { "url", "count" }))
    assert.are.equal('{"a": [1, 2], "b": {"c": true}}', enc({ a = { 1, 2 }, b = { c = true } }))
  end)

  it("ends each record with a newline in the sl_buf, appending records one after another", function()
    local buf = H.buf()
    encode.put_record(buf, { url = "/a", count = 1 }, { "url", "count" })
    encode.put_record(buf, { url = "/b", count = 2 }, { "url", "count" })
    encode.put_record(buf, {})
    assert.are.equal('{"url": "/a", "count": 1}\n{"url": "/b", "count": 2}\n{}\n', H.buf_string(buf))
    assert.are.same({ '{"url": "/a", "count": 1}', '{"url": "/b", "count": 2}', "{}" }, H.buf_lines(buf))
  end)

  describe("with a field list", function()
    it("writes exactly those fields, in that order", function()
      local t = { a = 1, b = 2, c = 3, d = 4 }
      assert.are.equal('{"d": 4, "a": 1, "c": 3}', enc(t, { "d", "a", "c" }))
      assert.are.equal('{"c": 3}', enc(t, { "c" }))
    end)

    it("skips nil fields, and writes {} when none is set", function()
      assert.are.equal('{"a": 1, "c": 3}', enc({ a = 1, c = 3 }, { "a", "b", "c" }))
      assert.are.equal('{"c": 3}', enc({ c = 3 }, { "a", "b", "c" }))
      assert.are.equal("{}", enc({ x = 1 }, { "a" }))
      assert.are.equal("{}", enc({ x = 1 }, {}))
    end)

    it("gives the same output on every call with one field list table", function()
      local fields = { "url", "count" }
      for i = 1, 3 do
        assert.are.equal(('{"url": "/%d", "count": %d}'):format(i, i), enc({ url = "/" .. i, count = i }, fields))
      end
      assert.are.equal('{"count": 4}', enc({ count = 4 }, fields))
      assert.are.equal('{"url": "/5", "count": 5}', enc({ url = "/5", count = 5 }, fields))
    end)

    it("follows a field list table that is changed between records", function()
      local fields = { "a" }
      assert.are.equal('{"a": 1}', enc({ a = 1, b = 2 }, fields))
      fields[2] = "b"
      assert.are.equal('{"a": 1, "b": 2}', enc({ a = 1, b = 2 }, fields))
      fields[1], fields[2] = "b", "a"
      assert.are.equal('{"b": 2, "a": 1}', enc({ a = 1, b = 2 }, fields))
      fields[2] = nil
      assert.are.equal('{"b": 2}', enc({ a = 1, b = 2 }, fields))
    end)

    it("writes into the host's sl_buf after what is there", function()
      local buf = H.buf()
      H.C.sl_buf_put(buf, "x\n", 2)
      encode.put_record(buf, { a = 1, b = 2 }, { "b", "missing", "a" })
      encode.put_record(buf, { a = 3 }, { "b", "missing", "a" })
      assert.are.equal('x\n{"b": 2, "a": 1}\n{"a": 3}\n', H.buf_string(buf))
    end)

    it("writes false and cjson.null (they are values, not absent)", function()
      assert.are.equal('{"a": false, "b": null}', enc({ a = false, b = cjson.null }, { "a", "b" }))
    end)

    it("projects a lazy input record, decoding and re-encoding the chosen fields", function()
      local r = H.record([[{"url":"/x","n":2,"skip":"me","tags":["a","b"],"s":"\u00e9\n"}]])
      assert.are.equal('{"n": 2, "url": "/x", "tags": ["a", "b"], "s": "é\\n"}',
        enc(r, { "n", "url", "missing", "tags", "s" }))
    end)
  end)

  describe("without a field list", function()
    it("writes keys in natural order: digit runs compare as numbers", function()
      local t = { consumer10 = 10, consumer2 = 2, consumer1 = 1, consumer = 0, ["consumer2a"] = 3, b = 5 }
      assert.are.equal('{"b": 5, "consumer": 0, "consumer1": 1, "consumer2": 2, "consumer2a": 3, "consumer10": 10}',
        enc(t))
    end)

    it("orders plain keys bytewise and a prefix before the longer key", function()
      assert.are.equal('{"A": 1, "a": 2, "ab": 3, "b": 4}', enc({ b = 4, ab = 3, a = 2, A = 1 }))
    end)

    it("orders by value across leading zeros and many digits", function()
      assert.are.equal('{"x9": 1, "x010": 2, "x11": 3, "x100": 4}', enc({ x100 = 4, x11 = 3, x010 = 2, x9 = 1 }))
      assert.are.equal('{"v1.2": 1, "v1.10": 2}', enc({ ["v1.10"] = 2, ["v1.2"] = 1 }))
    end)

    it("sorts nested objects' keys too", function()
      assert.are.equal('{"outer": {"k1": 1, "k2": 2, "k10": 10}}', enc({ outer = { k10 = 10, k2 = 2, k1 = 1 } }))
    end)
  end)

  describe("values", function()
    it("writes a sequence as an array and other tables as objects", function()
      assert.are.equal("[1, 2, 3]", enc({ 1, 2, 3 }))
      -- An empty table has no sequence part: it is written as an object.
      assert.are.equal('["a", true, false, {"k": "v"}, [{}]]', enc({ "a", true, false, { k = "v" }, { {} } }))
      assert.are.equal('{"list": [1], "map": {"x": 1}}', enc({ list = { 1 }, map = { x = 1 } }))
      assert.are.equal("{}", enc({}))
    end)

    it("writes non-string keys of an object as strings", function()
      assert.are.equal('{"7": "seven"}', enc({ [7] = "seven" }))
      assert.are.equal('{"true": 1}', enc({ [true] = 1 }))
    end)

    it("writes nested tables at depth", function()
      local t = { v = 1 }
      for _ = 1, 50 do
        t = { t }
      end
      local s = enc(t)
      assert.are.equal(("["):rep(50) .. '{"v": 1}' .. ("]"):rep(50), s)
      assert.are.same(t, cjson.decode(s))
    end)

    it("escapes quotes, backslashes and control characters", function()
      assert.are.equal([["a\"b\\c/d"]], enc({ 'a"b\\c/d' }):sub(2, -2))
      assert.are.equal([["\n\r\t\b\f"]], enc({ "\n\r\t\b\f" }):sub(2, -2))
      assert.are.equal([["\u0000\u0001\u001f"]], enc({ "\0\1\31" }):sub(2, -2))
      assert.are.equal([["\"key\"": 1]], enc({ ['"key"'] = 1 }):sub(2, -2))
    end)

    it("passes valid UTF-8 through and replaces invalid bytes with \\ufffd", function()
      assert.are.equal('["café €😀"]', enc({ "café €😀" }))
      assert.are.equal([=[["a\ufffdb"]]=], enc({ "a\255b" }))
      assert.are.equal([=[["\ufffd\ufffd"]]=], enc({ "\192\175" }))
    end)

    it("round-trips strings through cjson", function()
      local s = "line\nquote\" back\\ tab\t bell\7 uni é 😀"
      assert.are.equal(s, cjson.decode(enc({ s = s })).s)
    end)

    it("writes integral numbers as integers and others in shortest round-trip form", function()
      local cases = {
        { 0, "0" }, { 1, "1" }, { -7, "-7" }, { -0.0, "0" }, { 2 ^ 53, "9007199254740992" },
        { 2 ^ 62, "4611686018427387904" }, { 1.5, "1.5" }, { -0.25, "-0.25" }, { 0.1, "0.1" },
        { 1 / 3, "0.3333333333333333" }, { 1e300, "1e+300" }, { 1e-7, "1e-07" }, { 2 ^ 63, "9.223372036854776e+18" },
        { 0.1 + 0.2, "0.30000000000000004" },
      }
      for _, c in ipairs(cases) do
        assert.are.equal('{"n": ' .. c[2] .. "}", enc({ n = c[1] }), "for " .. tostring(c[1]))
        assert.are.equal(c[1], cjson.decode(enc({ n = c[1] })).n)
      end
    end)

    it("writes NaN and infinities as null", function()
      assert.are.equal('[null, null, null]', enc({ 0 / 0, math.huge, -math.huge }))
      assert.are.equal('{"a": null}', enc({ a = 0 / 0 }, { "a" }))
    end)

    it("writes int64 and uint64 cdata as plain integers", function()
      assert.are.equal('{"a": 4611686018427387904, "b": -5, "c": 18446744073709551615}',
        enc({ a = 2 ^ 62LL, b = -5LL, c = 18446744073709551615ULL }, { "a", "b", "c" }))
    end)

    it("writes cjson.null as null", function()
      assert.are.equal("[null, 1]", enc({ cjson.null, 1 }))
    end)
  end)

  describe("input records", function()
    it("pass through as their original line, byte for byte", function()
      local line = [[{ "url":"/api/a" ,"n" : 1.50, "s":"\u00e9\/", "nested": {"b":1,"a":2} }]]
      local r = H.record(line)
      assert.are.equal(line, enc(r))
      local buf = H.buf()
      encode.put_record(buf, r)
      assert.are.equal(line .. "\n", H.buf_string(buf))
    end)

    it("pass through inside a table", function()
      local line = [[{"b":1,"a":2}]]
      assert.are.equal('{"orig": {"b":1,"a":2}, "seen": 1}', enc({ orig = H.record(line), seen = 1 }))
    end)

    it("converted with sluice.totable are re-encoded in natural order", function()
      local r = H.record([[{"b": 1, "a": 2, "a10": 3, "a9": 4}]])
      assert.are.equal('{"a": 2, "a9": 4, "a10": 3, "b": 1}', enc(require("sluice").totable(r)))
    end)
  end)

  describe("errors", function()
    it("refuses a function value", function()
      local ok, err = pcall(enc, { f = print })
      assert.is_false(ok)
      assert.matches("cannot write a function value as JSON", err, 1, true)
      ok, err = pcall(enc, { f = function() end }, { "f" })
      assert.is_false(ok)
      assert.matches("cannot write a function value as JSON", err, 1, true)
      assert.has_error(function() enc({ function() end }) end, "cannot write a function value as JSON")
    end)

    it("refuses other unwritable values", function()
      assert.has_error(function() enc({ co = coroutine.create(print) }) end, "cannot write a thread value as JSON")
      assert.has_error(function() enc({ u = io.stdout }) end, "cannot write a userdata value as JSON")
    end)

    it("refuses a cyclic table instead of recursing forever", function()
      local t = { name = "x" }
      t.self = t
      local ok, err = pcall(enc, t)
      assert.is_false(ok)
      assert.matches("nested too deeply", err, 1, true)
    end)
  end)
end)

describe("encode.natural_less", function()
  it("is a strict order", function()
    local less = encode.natural_less
    assert.is_true(less("a2", "a10"))
    assert.is_false(less("a10", "a2"))
    assert.is_false(less("a", "a"))
    assert.is_true(less("a", "ab"))
    assert.is_false(less("ab", "a"))
    assert.is_true(less("9", "10"))
    assert.is_true(less("", "a"))
  end)
end)
