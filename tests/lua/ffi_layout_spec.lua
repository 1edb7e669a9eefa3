-- ffi_layout_spec — sluice.cdefs, the one module of FFI declarations, held to the C it mirrors.
--
-- A struct Lua declares with fields is a hand copy of a C layout: if C gains a field and Lua does not,
-- every field after it is read at the wrong offset and nothing says so. Here, against the real
-- libsluice.so and the real headers:
--   * every struct cdefs.lua declares with fields is in lua/ffi_layout.c's table (sizeof/offsetof taken
--     by the compiler), and the table has no struct cdefs.lua does not declare;
--   * ffi.sizeof of the struct, and ffi.offsetof and the size of every field, equal the compiler's;
--   * the struct's fields, in order, are those of its definition in the header of its cdefs group (so a
--     field that fits in padding, and changes no size or offset, is caught too);
--   * every function cdefs.lua declares has the prototype of its header (parameter names aside) and is
--     exported by libsluice.so;
--   * the Lua-only structs (cdefs.lua's lua_only) are defined in no C header.
local ffi = require "ffi"
local native = require "sluice.native"
local cdefs = require "sluice.cdefs"

local C = native.C

-- The source tree: cdefs.lua is ROOT/lua/sluice/cdefs.lua.
local ROOT = assert(package.searchpath("sluice.cdefs", package.path), "sluice.cdefs not on package.path")
  :gsub("lua/sluice/cdefs%.lua$", ""):gsub("(.)/$", "%1")
if ROOT == "" then
  ROOT = "."
end

-- C text reading -------------------------------------------------------------------------------------

-- Text without comments and preprocessor lines, whitespace collapsed to single spaces.
local function plain(text)
  text = text:gsub("/%*.-%*/", " "):gsub("//[^\n]*", " "):gsub("\\\n", " ")
  text = ("\n" .. text):gsub("\n%s*#[^\n]*", "\n")
  return (text:gsub("%s+", " "))
end

local function trim(s)
  return (s:gsub("^%s+", ""):gsub("%s+$", ""))
end

local function read_header(header)
  local f = assert(io.open(ROOT .. "/" .. header, "rb"), "cannot read " .. header .. " under " .. ROOT)
  local text = f:read("*a")
  f:close()
  return plain(text)
end

-- The fields of a struct body ("{ ... }") in order: { { name =, type = }, ... }, type as ffi.sizeof takes
-- it ("uint32_t", "const sl_ttl *", "char[16]"). Errors on what it cannot read (bit fields, nested
-- structs, function pointers), naming the declaration.
local function fields_of(struct, body)
  local fields = {}
  for decl in body:sub(2, -2):gmatch("[^;]+") do
    decl = trim(decl)
    if decl ~= "" then
      local function bad()
        error(("cannot read the field declaration '%s' of %s (the spec reads plain `type a, *b, c[N];`)")
          :format(decl, struct), 0)
      end
      if decl:find("[(){}:]") then
        bad()
      end
      local base
      for part in (decl .. ","):gmatch("([^,]*),") do
        part = trim(part)
        local array = part:match("(%[[^%]]*%])$") or ""
        part = trim(part:sub(1, #part - #array))
        local pre, name = part:match("^(.-)([%a_][%w_]*)$")
        if not name then
          bad()
        end
        if base == nil then
          base, pre = pre:match("^(.-[%w_])([%s%*]*)$")
          if not base then
            bad()
          end
        elseif not pre:find("^[%s%*]*$") then
          bad()
        end
        local stars = pre:gsub("[^%*]", "")
        fields[#fields + 1] = { name = name, type = trim(base .. " " .. stars) .. array }
      end
    end
  end
  return fields
end

-- Every struct defined with a body in text: { { name =, body = }, ... }. With strict (sluice.cdefs' own
-- text), a struct without a tag or a union errors: nothing could check it by name.
local function structs_of(text, where, strict)
  text = plain(text)
  if strict and (text:find("struct%s*{") or text:find("union[%s%w_]*{")) then
    error(where .. " declares an untagged struct or a union; write it as `typedef struct NAME { ... } NAME;`",
      0)
  end
  local out = {}
  for name, body in text:gmatch("struct%s+([%a_][%w_]*)%s*(%b{})") do
    out[#out + 1] = { name = name, body = body }
  end
  return out
end

-- A parameter list or return type without parameter names, spaces only where two words meet:
-- "(const void *val, size_t len)" -> "(const void*,size_t)".
local function param_types(params)
  local out = {}
  for p in params:sub(2, -2):gmatch("[^,]+") do
    local words = {}
    for tok in p:gmatch("[%w_]+") do
      words[#words + 1] = tok
    end
    local stars = select(2, p:gsub("%*", ""))
    -- A trailing word after the type is the parameter's name ("size_t len", "const sl_ttl *t").
    if #words > 1 and not p:find("%*%s*$") and not (#words == 2 and words[1] == "const") then
      words[#words] = nil
    end
    out[#out + 1] = table.concat(words, " ") .. ("*"):rep(stars)
  end
  return "(" .. table.concat(out, ",") .. ")"
end

local function norm_type(t)
  local words = {}
  for tok in t:gmatch("[%w_]+") do
    words[#words + 1] = tok
  end
  return table.concat(words, " ") .. ("*"):rep(select(2, t:gsub("%*", "")))
end

-- The functions declared (not defined) in text: name -> "ret name(types)".
local function prototypes_of(text)
  local out = {}
  text = plain(text)
  local pos = 1
  while true do
    local s, e, ret, name, params = text:find("([%w_%s%*]-)([%a_][%w_]*)%s*(%b())%s*;", pos)
    if not s then
      break
    end
    ret = trim(ret)
    if ret ~= "" and not ret:find("typedef") and not ret:find("return") then
      out[name] = norm_type(ret) .. " " .. name .. param_types(params)
    end
    pos = e + 1
  end
  return out
end

-- What the two sides declare ------------------------------------------------------------------------

-- The C table: layout[struct] = { size =, fields = { name -> { size =, offset = } }, order = { names } }.
local function c_layouts()
  local layout = {}
  local tp, fp = ffi.new("const char *[1]"), ffi.new("const char *[1]")
  local sp, op = ffi.new("size_t[1]"), ffi.new("size_t[1]")
  local i = 0
  while C.sl_ffi_layout_entry(i, tp, fp, sp, op) == 0 do
    local t = ffi.string(tp[0])
    if fp[0] == nil then
      assert(layout[t] == nil, "lua/ffi_layout.c lists " .. t .. " twice")
      layout[t] = { size = tonumber(sp[0]), fields = {}, order = {} }
    else
      local l = assert(layout[t], "lua/ffi_layout.c lists a field of " .. t .. " before the struct")
      local f = ffi.string(fp[0])
      l.fields[f] = { size = tonumber(sp[0]), offset = tonumber(op[0]) }
      l.order[#l.order + 1] = f
    end
    i = i + 1
  end
  return layout
end

local lua_only = {}
for _, name in ipairs(cdefs.lua_only) do
  lua_only[name] = true
end

-- The structs cdefs.lua declares with fields, in order, with the header of their group (nil: Lua only).
local declared = {}
for _, g in ipairs(cdefs.groups) do
  for _, s in ipairs(structs_of(g.cdef, "sluice.cdefs (" .. tostring(g.header) .. ")", true)) do
    s.header, s.fields = g.header, fields_of(s.name, s.body)
    declared[#declared + 1] = s
  end
end

local function names(t)
  local out = {}
  for _, v in ipairs(t) do
    out[#out + 1] = v.name
  end
  return table.concat(out, ", ")
end

describe("sluice.cdefs", function()
  local layout = c_layouts()

  it("declares with fields exactly the structs lua/ffi_layout.c reports, and the Lua-only ones", function()
    local seen = {}
    for _, s in ipairs(declared) do
      seen[s.name] = true
      if s.header == nil then
        assert(lua_only[s.name], s.name .. " is declared in the Lua-only group but not in cdefs.lua_only")
        assert(layout[s.name] == nil, s.name .. " is Lua-only in cdefs.lua but lua/ffi_layout.c reports it")
      else
        assert(not lua_only[s.name], s.name .. " is in cdefs.lua_only but in the group of " .. s.header)
        assert(layout[s.name], ("sluice.cdefs declares struct %s (%s) with fields, but lua/ffi_layout.c does "
          .. "not report its layout: add it and every field there"):format(s.name, s.header))
      end
    end
    for name in pairs(layout) do
      assert(seen[name], "lua/ffi_layout.c reports " .. name .. ", which sluice.cdefs does not declare")
    end
    for name in pairs(lua_only) do
      assert(seen[name], "cdefs.lua_only lists " .. name .. ", which sluice.cdefs does not declare")
    end
  end)

  for _, s in ipairs(declared) do
    if s.header then
      describe("struct " .. s.name .. " (" .. s.header .. ")", function()
        it("has the compiler's size, and each field its offset and size", function()
          local c = assert(layout[s.name], "lua/ffi_layout.c does not report " .. s.name)
          for _, f in ipairs(c.order) do
            assert(ffi.offsetof(s.name, f), ("C has %s.%s (lua/ffi_layout.c), the Lua declaration does not")
              :format(s.name, f))
          end
          for _, f in ipairs(s.fields) do
            local cf = c.fields[f.name]
            assert(cf, ("Lua declares %s.%s, lua/ffi_layout.c does not report it"):format(s.name, f.name))
            assert.are.equal(cf.offset, ffi.offsetof(s.name, f.name), "offset of " .. s.name .. "." .. f.name)
            assert.are.equal(cf.size, ffi.sizeof(f.type), "size of " .. s.name .. "." .. f.name)
          end
          assert.are.equal(c.size, ffi.sizeof(s.name), "sizeof " .. s.name)
        end)

        it("has the fields of its definition in the header, in order", function()
          local found
          for _, h in ipairs(structs_of(read_header(s.header), s.header)) do
            if h.name == s.name then
              found = h
            end
          end
          assert(found, ("%s does not define struct %s (sluice.cdefs declares it in that header's group)")
            :format(s.header, s.name))
          local in_header = names(fields_of(s.name .. " in " .. s.header, found.body))
          assert.are.equal(in_header, names(s.fields), "fields of " .. s.name .. " in " .. s.header
            .. " vs sluice.cdefs")
          -- ffi_layout.c must list them all too, or a field that fits in padding would go unchecked there.
          assert.are.equal(in_header, table.concat(layout[s.name].order, ", "),
            "fields of " .. s.name .. " in " .. s.header .. " vs lua/ffi_layout.c")
        end)
      end)
    end
  end

  it("declares every function as its header does, and libsluice.so exports it", function()
    local count = 0
    for _, g in ipairs(cdefs.groups) do
      local lua_side = prototypes_of(g.cdef)
      local c_side = g.header and prototypes_of(read_header(g.header)) or {}
      for name, proto in pairs(lua_side) do
        count = count + 1
        assert.are.equal(c_side[name], proto, ("prototype of %s (sluice.cdefs vs %s)"):format(name,
          tostring(g.header)))
        assert(pcall(function()
          return C[name]
        end), name .. " is declared in sluice.cdefs but libsluice.so has no such symbol")
      end
    end
    assert(count > 50, "found only " .. count .. " function declarations: the spec's reader is broken")
  end)

  it("declares function-pointer types as their headers do", function()
    for _, g in ipairs(cdefs.groups) do
      for decl in plain(g.cdef):gmatch("typedef [^;{}]-%(%*[^;{}]-;") do
        assert(g.header, "the Lua-only group declares `" .. decl .. "`, which belongs in its header's group")
        assert(read_header(g.header):find(decl, 1, true), ("%s does not declare `%s`"):format(g.header, decl))
      end
    end
  end)

  it("keeps the Lua-only structs out of every C header", function()
    local list = assert(io.popen("cd '" .. ROOT .. "' && find core lua state -name '*.h' | sort"))
    for header in list:lines() do
      for _, h in ipairs(structs_of(read_header(header), header)) do
        assert(not lua_only[h.name], ("%s defines struct %s, which sluice.cdefs declares as Lua-only: list "
          .. "it in lua/ffi_layout.c and declare it in the group of %s"):format(header, h.name, header))
      end
    end
    list:close()
  end)
end)
