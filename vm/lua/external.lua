-- What reaches outside the sandbox, always through the broker: Http (the
-- egress rules sandbox.network.allow / deny decide) and the tools of MCP
-- servers (mcp_servers in the config; the policy decides, as for host
-- tools).  Nothing here opens a socket: the VM has none.
--
--   Http.get(url [, opts]), Http.post(url [, opts]), Http.put, Http.delete,
--   Http.request { method, url, headers, body, json, timeout }
--     -> { status, ok, headers (lowercase names), body, json (when it parses) }
--   Toolset "fs" { use = "mcp.filesystem" }; Agent { tools = { "fs" } } or
--   tools = { "filesystem" } (the server's name, as Tactus registers it);
--   Tool.get("filesystem_read_file"); mcp.filesystem.read_file { path = ... }
--   MCP tools are named SERVER_TOOL (Tactus's prefix); the policy names them
--   mcp.SERVER.TOOL.
local ctx = ...
local G, T = ctx.G, ctx.T
local type, pairs, ipairs, tostring, error, setmetatable, pcall =
  type, pairs, ipairs, tostring, error, setmetatable, pcall

-- ---- Http -----------------------------------------------------------------

local function request(opts)
  if type(opts) ~= "table" then error("Http.request expects a table: { url = ..., method = ... }", 3) end
  if type(opts.url) ~= "string" then error("Http: url must be a string", 3) end
  local headers = {}
  for k, v in pairs(opts.headers or {}) do
    if type(k) ~= "string" or (type(v) ~= "string" and type(v) ~= "number") then
      error("Http: headers must map names to strings", 3)
    end
    headers[k] = tostring(v)
  end
  local body = opts.body
  if opts.json ~= nil then
    body = T.json_encode(opts.json)
    if headers["Content-Type"] == nil and headers["content-type"] == nil then
      headers["Content-Type"] = "application/json"
    end
  end
  if body ~= nil and type(body) ~= "string" then error("Http: body must be a string (or use json =)", 3) end
  local method = opts.method or (body ~= nil and "POST" or "GET")
  local r = T.call("http.request", { method = tostring(method):upper(), url = opts.url, headers = headers,
    body = body, timeout = opts.timeout })
  local res = { status = r.status, headers = r.headers or {}, body = r.body or "" }
  res.ok = type(res.status) == "number" and res.status >= 200 and res.status < 300
  local ct = res.headers["content-type"]
  if type(ct) == "string" and ct:find("json", 1, true) then
    local ok, v = pcall(T.json_decode, res.body)
    if ok then res.json = v end
  end
  return res
end

local function with_method(method)
  return function(url, opts)
    local o = {}
    for k, v in pairs(opts or {}) do o[k] = v end
    o.url, o.method = url, method
    return request(o)
  end
end

G.Http = { request = function(opts) return request(opts) end, get = with_method("GET"),
  post = with_method("POST"), put = with_method("PUT"), delete = with_method("DELETE"),
  patch = with_method("PATCH") }

-- ---- MCP tools --------------------------------------------------------------

local servers = {}
for _, name in ipairs(ctx.mcp_servers or {}) do servers[name] = true end
local toolsets = {} -- server -> its tool handles, listed once

function ctx.is_mcp_server(name) return servers[name] == true end

-- The tools of SERVER as handles (the broker starts it on first use).
function ctx.mcp_toolset(server)
  if not servers[server] then
    error({ type = "MCPNotConfigured", message = "no MCP server '" .. tostring(server)
      .. "' in the config (add it under mcp_servers:)" }, 0)
  end
  if toolsets[server] then return toolsets[server] end
  local reply = T.call("mcp.list_tools", { server = server })
  local list = {}
  for _, t in ipairs(reply.tools or {}) do
    list[#list + 1] = ctx.new_mcp_tool(server, t)
  end
  toolsets[server] = list
  return list
end

-- "mcp.NAME" or a server's own name.
function ctx.mcp_server_of(name)
  if type(name) ~= "string" then return nil end
  local s = name:match("^mcp%.(.+)$") or name
  if servers[s] then return s end
  return nil
end

-- Tool.get("server_tool") for a server not listed yet.
function ctx.find_mcp_tool(name)
  for server in pairs(servers) do
    if name:sub(1, #server + 1) == server .. "_" then
      ctx.mcp_toolset(server)
      if ctx.tools[name] then return ctx.tools[name] end
    end
  end
  return nil
end

function ctx.call_mcp_tool(server, tool, args)
  if ctx.mock_all then
    local ok, v = ctx.mock_answer(server .. "_" .. tool, args)
    if ok then return v end
    return { mocked = true, tool = server .. "_" .. tool }
  end
  return T.call("mcp.call_tool", { server = server, name = tool, args = args }).result
end

G.mcp = setmetatable({}, {
  __index = function(_, server)
    if not servers[server] then error("mcp." .. tostring(server) .. ": no such MCP server in the config", 2) end
    return setmetatable({}, {
      __index = function(_, tool)
        ctx.mcp_toolset(server)
        local h = ctx.tools[server .. "_" .. tostring(tool)]
        if h == nil then error("mcp." .. server .. "." .. tostring(tool) .. ": the server has no such tool", 2) end
        return h
      end,
      __newindex = function() error("mcp tables are read-only", 2) end,
    })
  end,
  __newindex = function() error("mcp tables are read-only", 2) end,
})
