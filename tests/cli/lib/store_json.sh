# Reading a store file back in the CLI tests (sourced after lib/assert.sh).
# json FILE LUA-EXPR: prints EXPR's values tab-separated, `r` being the last result of the
# store file FILE (numbers with integral values print as integers: cjson reads every
# number as a float).
json() {
    "$SBENGINE" -e "local f = assert(io.open('$1')); local a = require('cjson').decode(f:read('a'))
        local r = a[#a]
        local out = table.pack($2)
        for i = 1, out.n do out[i] = tostring(math.tointeger(out[i]) or out[i]) end
        print(table.concat(out, '\\t', 1, out.n))"
}
