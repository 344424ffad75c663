-- A local module (not a procedure): require("lib.textutil") from a .tac in
-- examples/ loads this file; what it returns is the module.
local M = {}

function M.title_case(s)
  return (s:gsub("(%a)([%w]*)", function(first, rest) return first:upper() .. rest:lower() end))
end

function M.reverse_words(s)
  local words = {}
  for w in s:gmatch("%S+") do table.insert(words, 1, w) end
  return table.concat(words, " ")
end

M.version = "1.0"
return M
