-- attack: a memory bomb: an ever-growing table of tables.
-- contained: the VM's heap cap ends the run (pcall cannot catch it); exit 137.
-- args: --memory 64m --timeout 30
-- expect: exit=137 error="memory limit"
-- within: 20
local t = {}
while true do
  pcall(function() for i = 1, 1e5 do t[#t + 1] = { i } end end)
end
