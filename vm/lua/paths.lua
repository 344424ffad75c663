-- Which file a relative path in a procedure means.  The VM sees one
-- directory tree, the workspace (the current directory of the run); every
-- path-taking primitive turns the user's path into a path relative to it
-- with ctx.workspace_path, and nothing else does.
--
-- Tactus's rules, followed here:
--   File.*, tactus.io.* (file, json, csv, tsv, fs), an Evaluation's
--   dataset_file: relative to the procedure file's directory
--   ("procedure").
--   Procedure.run("x.tac"): the working directory first ("workspace"),
--   then the procedure's directory (modules.lua tries both).
--   require("lib.x"): beside the procedure (the broker's module.load,
--   confined to the procedure's directory).
-- Absolute paths and '..' are refused, as Tactus refuses them.
--
-- ctx.procedure_dir is the procedure's directory relative to the workspace
-- ("" when it is the workspace itself), from run.start.  It is nil when
-- the procedure lies outside the workspace (tactus-run run ../x.tac):
-- then its directory is not in the cage at all, and "procedure" paths
-- resolve against the workspace, where the run can read and write.
local ctx = ...
local type = type
local find, gsub, sub = string.find, string.gsub, string.sub

-- Errors name the user's line (ctx.raise, runtime.lua).
local function raise(what, path, why) ctx.raise(what .. ": '" .. path .. "': " .. why) end

-- PATH (relative, from the user) as a path relative to the workspace,
-- against BASE: "procedure" (the default) or "workspace".  WHAT names the
-- primitive in errors.
function ctx.workspace_path(path, base, what)
  what = what or "path"
  if type(path) ~= "string" or path == "" then ctx.raise(what .. ": the path must be a non-empty string") end
  if sub(path, 1, 1) == "/" then
    raise(what, path, "absolute paths are not allowed; use a path relative to " .. ctx.path_base())
  end
  -- "./a//b/" is "a/b"; ".." anywhere is refused.
  local clean = gsub(gsub(gsub("/" .. path .. "/", "/%./", "/"), "/%./", "/"), "//+", "/")
  if find(clean, "/%.%./") then raise(what, path, "'..' is not allowed: paths stay inside " .. ctx.path_base()) end
  clean = sub(clean, 2, -2)
  if clean == "" then clean = "." end
  local dir = ctx.procedure_dir
  if (base or "procedure") == "procedure" and type(dir) == "string" and dir ~= "" and dir ~= "." then
    if clean == "." then return dir end
    return dir .. "/" .. clean
  end
  return clean
end

-- What relative paths are relative to, for messages.
function ctx.path_base()
  local dir = ctx.procedure_dir
  if dir == nil then
    return "the workspace, the current directory (the procedure lies outside it)"
  end
  if dir == "" or dir == "." then return "the procedure's directory (the workspace)" end
  return "the procedure's directory (" .. dir .. " in the workspace)"
end

-- The directory part of a workspace path ("a/b/c.csv" -> "a/b"), or nil.
function ctx.parent_dir(path)
  return path:match("^(.*)/[^/]+$")
end
