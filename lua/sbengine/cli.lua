--- Sub-commands of the `sbengine` executable that are written in Lua.
-- engine/main.c calls `cli.<command>(...)` and uses the returned integer as exit code.
local cli = {}

return cli
