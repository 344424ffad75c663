-- attack: many 7 MB checkpoints: each message is under the 8 MiB frame limit
-- and the VM's heap stays small, but the broker keeps every checkpoint in
-- memory (it reached 1 GB for 150 of them).
-- contained: the broker caps checkpoint storage (CheckpointStorageFull), exit 1,
-- and its memory stays bounded.
-- args: --timeout 60
-- expect: exit=1 error="CheckpointStorageFull"
-- maxrss: 300
local big = string.rep("c", 7e6)
for i = 1, 200 do
  checkpoint(function() return big .. i end)
end
return "stored"
