-- The job DSL (lua/sluice/init.lua) and its compilation into a closure chain (lua/sluice/pipeline.lua),
-- run end to end over real record batches, a real state backend and a real sl_buf.
local H = require "helpers"
local sluice = require "sluice"
local pipeline = require "sluice.pipeline"

local function noop() end

-- Calls fn, expects it to fail, and returns the message.
local function error_of(fn, ...)
  local ok, err = pcall(fn, ...)
  assert.is_false(ok, "expected an error")
  return tostring(err)
end

describe("job API validation", function()
  it("builds a job with a name and no operators", function()
    local job = sluice.job "url-count"
    assert.is_true(sluice.is_job(job))
    assert.is_false(sluice.is_job({}))
    assert.are.equal("url-count", job.name)
    assert.are.equal("Job<url-count> (0 operators)", tostring(job))
  end)

  it("refuses a bad job name", function()
    for _, name in ipairs({ "", "a/b", "a\0b" }) do
      assert.matches("job name must be a non-empty string without '/'", error_of(sluice.job, name), 1, true)
    end
    assert.matches("job name", error_of(sluice.job, nil))
    assert.matches("job name", error_of(sluice.job, 42))
  end)

  it("refuses a bad operator uid", function()
    local job = sluice.job "j"
    assert.matches("map uid must be a non-empty string without '/' (got )", error_of(job.map, job, "", noop), 1, true)
    assert.matches("filter uid must be", error_of(job.filter, job, "a/b", noop), 1, true)
    assert.matches("process uid must be", error_of(job.process, job, 7, noop), 1, true)
    assert.are.equal(0, #job.ops)
  end)

  it("refuses a uid used twice, also against a derived uid", function()
    local job = sluice.job("j"):map("a", noop)
    assert.matches("operator uid 'a' is used twice", error_of(job.process, job, "a", noop), 1, true)
    job = sluice.job("j"):map(noop)
    assert.are.equal("map-1", job.ops[1].uid)
    assert.matches("operator uid 'map-1' is used twice", error_of(job.filter, job, "map-1", noop), 1, true)
  end)

  it("refuses an operator without a function", function()
    local job = sluice.job "j"
    assert.matches("filter 'filter-1' needs a function (got nil)", error_of(job.filter, job), 1, true)
    assert.matches("map 'm' needs a function (got number)", error_of(job.map, job, "m", 5), 1, true)
    assert.matches("flat_map 'f' needs a function (got table)", error_of(job.flat_map, job, "f", {}), 1, true)
    assert.matches("process needs a uid and a function", error_of(job.process, job, "count"), 1, true)
    assert.matches("process 'count' needs a function (got string)", error_of(job.process, job, "count", "x"), 1, true)
    -- A single non-function argument is taken as the function, under a derived uid.
    assert.matches("map 'map-1' needs a function (got string)", error_of(job.map, job, "name-only"), 1, true)
    assert.are.equal(0, #job.ops)
  end)

  it("refuses a key_by argument that is neither a field name nor a function", function()
    local job = sluice.job "j"
    for _, bad in ipairs({ 1, {}, true }) do
      assert.matches("key_by expects a field name or a function(rec) -> key", error_of(job.key_by, job, bad), 1, true)
    end
    assert.matches("key_by expects", error_of(job.key_by, job))
    assert.are.equal(0, #job.ops)
  end)

  it("reports validation errors at the job script's line", function()
    local job = sluice.job "j"
    local where = "job_api_spec.lua:%d+:"
    assert.matches(where, error_of(function() sluice.job "" end))
    assert.matches(where, error_of(function() job:map("", noop) end))
    assert.matches(where, error_of(function() job:process("", noop) end))
    assert.matches(where, error_of(function() job:map("x", noop):map("x", noop) end))
    assert.matches(where, error_of(function() job:filter("f", 1) end))
    assert.matches(where, error_of(function() job:flat_map() end))
    assert.matches(where, error_of(function() job:process("p", true) end))
    assert.matches(where, error_of(function() job:process("p") end))
    assert.matches(where, error_of(function() job:key_by(1) end))
    assert.matches(where, error_of(function() job:source("x") end))
    assert.matches(where, error_of(function() sluice.source.file {} end))
  end)

  it("chains operators in order, with derived uids by position", function()
    local f = function() end
    local job = sluice.job("j"):map(f):filter("keep", f):key_by("url"):flat_map(f):process("count", f)
    local kinds, uids = {}, {}
    for i, op in ipairs(job.ops) do
      kinds[i], uids[i] = op.kind, op.uid
    end
    assert.are.same({ "map", "filter", "key_by", "flat_map", "process" }, kinds)
    assert.are.same({ "map-1", "keep", "key_by-3", "flat_map-4", "count" }, uids)
    assert.are.equal("url", job.ops[3].field)
    assert.matches("job_api_spec.lua:%d+", job.ops[1].where)
    assert.are.equal("Job<j> (5 operators)", tostring(job))
  end)

  describe("sources and sinks", function()
    it("accept the sluice.source.* and sluice.sink.* values", function()
      local job = sluice.job("j")
        :source(sluice.source.file { path = "in.jsonl" })
        :source(sluice.source.tcp { port = 9000 })
        :source(sluice.source.stdin())
        :source(sluice.source.input())
        :sink(sluice.sink.file { path = "out.jsonl" })
      assert.are.same({ { kind = "file", path = "in.jsonl" }, { kind = "tcp", host = "127.0.0.1", port = 9000 },
        { kind = "stdin" }, { kind = "input" } }, job.sources)
      assert.are.same({ kind = "file", path = "out.jsonl" }, job.sink_spec)
      assert.are.same({ kind = "tcp", host = "0.0.0.0", port = 1 }, sluice.source.tcp { port = 1.9, host = "0.0.0.0" })
      assert.are.same({ kind = "stdout" }, sluice.sink.stdout())
      assert.are.same({ kind = "output" }, sluice.sink.output())
    end)

    it("refuse bad source options", function()
      assert.matches("sluice.source.file needs { path", error_of(sluice.source.file, {}), 1, true)
      assert.matches("sluice.source.file needs", error_of(sluice.source.file, "in.jsonl"), 1, true)
      assert.matches("sluice.source.tcp needs { port = 0..65535", error_of(sluice.source.tcp, { port = 70000 }), 1, true)
      assert.matches("sluice.source.tcp needs", error_of(sluice.source.tcp, { port = -1 }), 1, true)
      assert.matches("sluice.source.tcp needs", error_of(sluice.source.tcp, { port = "80" }), 1, true)
      assert.matches("sluice.source.tcp needs", error_of(sluice.source.tcp), 1, true)
    end)

    it("refuse something else than a source or a sink", function()
      local job = sluice.job "j"
      assert.matches("job:source expects a sluice.source.* value", error_of(job.source, job, "in.jsonl"), 1, true)
      assert.matches("job:source expects", error_of(job.source, job, {}), 1, true)
      assert.matches("job:source expects", error_of(job.source, job, sluice.source.file), 1, true)
      assert.matches("job:sink expects a sluice.sink.* value", error_of(job.sink, job, "out"), 1, true)
      assert.matches("job:sink expects", error_of(job.sink, job, nil), 1, true)
      assert.matches("sluice.sink.file needs { path", error_of(sluice.sink.file, { name = "x" }), 1, true)
      assert.are.same({}, job.sources)
    end)

    it("refuse a second sink", function()
      local job = sluice.job("j"):sink(sluice.sink.stdout())
      assert.matches("a job has one sink", error_of(job.sink, job, sluice.sink.file { path = "x" }), 1, true)
      assert.are.same({ kind = "stdout" }, job.sink_spec)
    end)
  end)
end)

describe("pipeline.compile", function()
  local fx = H.state_each { buf = true }

  -- Compiles job, runs the JSON lines through it, returns the output lines.
  local function run(job, lines)
    local head = fx:compile(job)
    H.run(head, H.batch(lines))
    return H.buf_lines(fx.buf)
  end

  local access = {
    [[{"url": "/a", "user": "u1", "n": 1}]],
    [[{"url": "/b", "user": "u2", "n": 2}]],
    [[{"url": "/a", "user": "u2", "n": 3}]],
    [[{"url": "/a", "user": "u1", "n": 4}]],
    [[{"url": "/c", "user": "u1", "n": 5}]],
  }

  it("passes records through unchanged, byte for byte", function()
    local lines = { [[{"b":1,  "a" : "x\u00e9"}]], [[{}]] }
    local out = run(sluice.job("j"):filter(function() return true end), lines)
    assert.are.same(lines, out)
  end)

  it("map transforms each record, with an output field list", function()
    local out = run(sluice.job("j"):map(function(r)
      return { url = r.url, double = r.n * 2, user = r.user }, { "url", "double" }
    end), access)
    assert.are.same({
      '{"url": "/a", "double": 2}', '{"url": "/b", "double": 4}', '{"url": "/a", "double": 6}',
      '{"url": "/a", "double": 8}', '{"url": "/c", "double": 10}',
    }, out)
  end)

  it("emit_fields writes values in field order, straight to the sink or as a table downstream", function()
    local fields = { "url", "n" }
    local emit = function(ctx, r) ctx:emit_fields(fields, r.url, r.n) end
    local out = run(sluice.job("j"):process("p", emit), access)
    assert.are.equal(5, #out)
    assert.are.equal('{"url": "/a", "n": 1}', out[1])
    assert.are.equal('{"url": "/c", "n": 5}', out[5])
    fx.buf = H.buf()
    local out2 = run(sluice.job("j"):process("p", emit)
      :map(function(t) return { u = t.url, n2 = t.n * 2 }, { "u", "n2" } end), access)
    assert.are.equal('{"u": "/b", "n2": 4}', out2[2])
    fx.buf = H.buf()
    local out3 = run(sluice.job("j"):process("p", function(ctx, r) ctx:emit_fields(fields, nil, r.n) end), access)
    assert.are.equal('{"n": 3}', out3[3])
  end)

  it("map drops a record when it returns nil", function()
    local out = run(sluice.job("j"):map(function(r)
      if r.n % 2 == 1 then return { n = r.n } end
    end), access)
    assert.are.same({ '{"n": 1}', '{"n": 3}', '{"n": 5}' }, out)
  end)

  it("filter keeps the records its function accepts", function()
    local out = run(sluice.job("j"):filter(function(r) return r.url == "/a" end)
      :map(function(r) return { n = r.n } end), access)
    assert.are.same({ '{"n": 1}', '{"n": 3}', '{"n": 4}' }, out)
  end)

  it("flat_map emits through out(), with or without fields", function()
    local out = run(sluice.job("j"):flat_map(function(r, out)
      for i = 1, r.n do
        out({ i = i, url = r.url, skip = true }, { "url", "i" })
      end
      out({ last = r.n })
    end), { access[1], access[2] })
    assert.are.same({ '{"url": "/a", "i": 1}', '{"last": 1}', '{"url": "/b", "i": 1}', '{"url": "/b", "i": 2}',
      '{"last": 2}' }, out)
  end)

  it("flat_map emits a returned array of records", function()
    local out = run(sluice.job("j"):flat_map(function(r)
      local list = {}
      for c in r.word:gmatch(".") do
        list[#list + 1] = { c = c }
      end
      return list
    end), { [[{"word": "abc"}]], [[{"word": ""}]], [[{"word": "d"}]] })
    assert.are.same({ '{"c": "a"}', '{"c": "b"}', '{"c": "c"}', '{"c": "d"}' }, out)
  end)

  it("key_by(field) + process count per key with ctx:value, ctx:key and emit fields", function()
    local keys = {}
    local out = run(sluice.job("url-count")
      :key_by "url"
      :process("count", function(ctx, rec)
        local n = ctx:value("n", 0)
        local c = n:value() + 1
        n:update(c)
        keys[#keys + 1] = ctx:key()
        ctx:emit({ url = rec.url, count = c, ignored = true }, { "url", "count" })
      end), access)
    assert.are.same({
      '{"url": "/a", "count": 1}', '{"url": "/b", "count": 1}', '{"url": "/a", "count": 2}',
      '{"url": "/a", "count": 3}', '{"url": "/c", "count": 1}',
    }, out)
    assert.are.same({ "/a", "/b", "/a", "/a", "/c" }, keys)
  end)

  it("sluice.KEY in emit_fields writes the current key: a string escaped, a number or boolean as the record had it", function()
    local job = function(field)
      local fields = { field, "n" }
      return sluice.job("j"):key_by(field):process("p", function(ctx, r) ctx:emit_fields(fields, sluice.KEY, r.n) end)
    end
    local lines = {
      [[{"url": "/a\"b\u00e9", "id": 2.50, "ok": true, "n": 1}]], [[{"url": "/c", "id": -7, "ok": false, "n": 2}]],
    }
    -- The string key as rec.url gives it would be written: unescaped, then escaped again.
    local same = run(sluice.job("j"):key_by("url"):process("p", function(ctx, r)
      ctx:emit_fields({ "url", "n" }, r.url, r.n)
    end), lines)
    assert.are.same({ '{"url": "/a\\"b\195\169", "n": 1}', '{"url": "/c", "n": 2}' }, same)
    fx.buf = H.buf()
    assert.are.same(same, run(job "url", lines))
    fx.buf = H.buf()
    assert.are.same({ '{"id": 2.50, "n": 1}', '{"id": -7, "n": 2}' }, run(job "id", lines))
    fx.buf = H.buf()
    assert.are.same({ '{"ok": true, "n": 1}', '{"ok": false, "n": 2}' }, run(job "ok", lines))
    -- A key function's key is a string; a nil value takes the general path, which builds a table.
    fx.buf = H.buf()
    local out = run(sluice.job("j"):key_by(function(r) return r.url .. "!" end):process("p", function(ctx, r)
      ctx:emit_fields({ "k", "m", "n" }, sluice.KEY, nil, r.n)
    end), lines)
    assert.are.same({ '{"k": "/a\\"b\195\169!", "n": 1}', '{"k": "/c!", "n": 2}' }, out)
    -- Downstream of a keyed operator, KEY becomes the key's value in the record it is handed.
    fx.buf = H.buf()
    local got = {}
    run(job("id"):map(function(t) got[#got + 1] = t.id return t end), lines)
    assert.are.same({ 2.5, -7 }, got)
    got = {}
    run(job("url"):map(function(t) got[#got + 1] = t.url return t end), lines)
    assert.are.same({ '/a"b\195\169', "/c" }, got)
  end)

  it("sluice.KEY outside a keyed operator, or outside emit_fields, is an error", function()
    local head = fx:compile(sluice.job("j"):process("p", function(ctx) ctx:emit_fields({ "k" }, sluice.KEY) end))
    local ok, err = pcall(head, H.record([[{"url": "/a"}]]))
    assert.is_false(ok)
    assert.matches("sluice.KEY stands for the current key", err, 1, true)
    head = fx:compile(sluice.job("j"):key_by("url"):process("p", function(ctx) ctx:emit({ k = sluice.KEY }) end))
    ok, err = pcall(head, H.record([[{"url": "/a"}]]))
    assert.is_false(ok)
    assert.matches("sluice.KEY stands for the current key", err, 1, true)
    assert.is_false(pcall(function() sluice.KEY.x = 1 end))
  end)

  it("key_by(fn) keys on the function's result", function()
    local out = run(sluice.job("j")
      :key_by(function(r) return r.user .. "|" .. r.url end)
      :process("count", function(ctx, rec)
        local n = ctx:value "n"
        local c = (n:value() or 0) + 1
        n:update(c)
        ctx:emit({ key = ctx:key(), count = c }, { "key", "count" })
      end), access)
    assert.are.same({
      '{"key": "u1|/a", "count": 1}', '{"key": "u2|/b", "count": 1}', '{"key": "u2|/a", "count": 1}',
      '{"key": "u1|/a", "count": 2}', '{"key": "u1|/c", "count": 1}',
    }, out)
  end)

  it("key_by a number field gives the same key from a lazy record and from a table", function()
    local seen = {}
    local job = sluice.job("j")
      :key_by("id")
      :process("p1", function(ctx, rec)
        seen[#seen + 1] = ctx:key()
        ctx:emit({ id = rec.id })
      end)
      :key_by("id")
      :process("p2", function(ctx)
        seen[#seen + 1] = ctx:key()
      end)
    run(job, { [[{"id": 7}]], [[{"id": -12}]] })
    assert.are.same({ "7", "7", "-12", "-12" }, seen)
  end)

  it("keeps state of keyed operators apart per operator and per key", function()
    local out = run(sluice.job("j")
      :key_by "url"
      :process("per-url", function(ctx, rec)
        local n = ctx:value("n", 0)
        n:update(n:value() + rec.n)
        ctx:emit({ url = rec.url, user = rec.user, url_sum = n:value() })
      end)
      :key_by "user"
      :process("per-user", function(ctx, rec)
        local n = ctx:value("n", 0)
        n:update(n:value() + 1)
        local urls = ctx:map "urls"
        urls:put(rec.url, true)
        local distinct = 0
        for _ in urls:keys() do distinct = distinct + 1 end
        ctx:emit({ user = rec.user, url_sum = rec.url_sum, seen = n:value(), distinct = distinct },
          { "user", "url_sum", "seen", "distinct" })
      end), access)
    assert.are.same({
      '{"user": "u1", "url_sum": 1, "seen": 1, "distinct": 1}',
      '{"user": "u2", "url_sum": 2, "seen": 1, "distinct": 1}',
      '{"user": "u2", "url_sum": 4, "seen": 2, "distinct": 2}',
      '{"user": "u1", "url_sum": 8, "seen": 2, "distinct": 1}',
      '{"user": "u1", "url_sum": 5, "seen": 3, "distinct": 2}',
    }, out)
  end)

  it("gives the context handles that print what they are", function()
    local printed
    run(sluice.job("j"):key_by("url"):process("count", function(ctx)
      assert.are.equal(ctx:value "n", ctx:value "n")
      printed = { tostring(ctx), tostring(ctx:value "n"), tostring(ctx:map "m") }
    end), { access[2] })
    assert.are.same({ "Context<count>", "ValueState<n> op=count key=/b", "MapState<m> op=count key=/b" }, printed)
  end)

  it("keeps state under the operator uid across a commit, a reopen and a recompiled job", function()
    local function job()
      return sluice.job("j"):key_by("url"):process("count", function(ctx, rec)
        local n = ctx:value("n", 0)
        n:update(n:value() + 1)
        ctx:emit({ url = rec.url, count = n:value() }, { "url", "count" })
      end)
    end
    run(job(), { access[1], access[2] })
    fx.env:commit(1)
    fx.env:reopen()
    fx.buf = H.buf()
    local out = run(job(), { access[3], access[2] })
    assert.are.same({ '{"url": "/a", "count": 2}', '{"url": "/b", "count": 2}' }, out)
  end)

  describe("errors", function()
    it("refuses keyed state in a process operator without key_by", function()
      local job = sluice.job("j"):process("count", function(ctx)
        assert.is_nil(ctx:key())
        ctx:value("n"):update(1)
      end)
      local head = fx:compile(job)
      local ok, err = pcall(head, H.record([[{"url": "/a"}]]))
      assert.is_false(ok)
      assert.matches("operator 'count' is not keyed: add key_by before it to use keyed state", err, 1, true)
      assert.are.equal("count", pipeline.current)
      local map_job = sluice.job("j"):process("sessions", function(ctx) ctx:map("m") end)
      head = fx:compile(map_job)
      ok, err = pcall(head, H.record("{}"))
      assert.matches("operator 'sessions' is not keyed", err, 1, true)
    end)

    it("refuses a state without a name", function()
      local head = fx:compile(sluice.job("j"):key_by("url"):process("p", function(ctx) ctx:value("") end))
      local ok, err = pcall(head, H.record([[{"url": "/a"}]]))
      assert.is_false(ok)
      assert.matches("value state needs a non-empty string name", err, 1, true)
    end)

    it("key_by(field) refuses a record without the field, naming it", function()
      local head = fx:compile(sluice.job("j"):key_by("url"):process("p", noop))
      local ok, err = pcall(head, H.record([[{"path": "/a"}]]))
      assert.is_false(ok)
      assert.matches("key_by: record has no field 'url'", err, 1, true)
      ok, err = pcall(head, H.record([[{"url": null}]]))
      assert.is_false(ok)
      assert.matches("key_by: record has no field 'url'", err, 1, true)
      head = fx:compile(sluice.job("j"):map(function() return { x = 1 } end):key_by("url"):process("p", noop))
      ok, err = pcall(head, H.record([[{"url": "/a"}]]))
      assert.is_false(ok)
      assert.matches("key_by: record has no field 'url'", err, 1, true)
    end)

    it("key_by(fn) refuses a nil key", function()
      local head = fx:compile(sluice.job("j"):key_by(function(r) return r.user end):process("p", noop))
      local ok, err = pcall(head, H.record([[{"url": "/a"}]]))
      assert.is_false(ok)
      assert.matches("key_by: the key function returned nil", err, 1, true)
    end)

    it("names the operator that threw in pipeline.current", function()
      local head = fx:compile(sluice.job("j"):map("first", function(r) return r end)
        :filter("boom", function() error("bad record") end))
      local ok, err = pcall(head, H.record("{}"))
      assert.is_false(ok)
      assert.matches("bad record", err, 1, true)
      assert.are.equal("boom", pipeline.current)
    end)

    it("a sink error on an unwritable value surfaces from the chain", function()
      local head = fx:compile(sluice.job("j"):map(function() return { f = print } end))
      local ok, err = pcall(head, H.record("{}"))
      assert.is_false(ok)
      assert.matches("cannot write a function value as JSON", err, 1, true)
      assert.are.equal("sink", pipeline.current)
    end)
  end)
end)
