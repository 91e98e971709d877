-- A loop of temporaries runs in bounded memory: the GC is told about tensor bytes.
local sb = require "sbengine"

local function rss_bytes()
  local f = assert(io.open("/proc/self/statm"))
  local _, resident = f:read("n", "n")
  f:close()
  return resident * 4096
end

describe("tensor memory", function()
  it("100k iterations of temporaries stay under a fixed RSS", function()
    local a = sb.ones(1024)
    collectgarbage()
    local rss0 = rss_bytes()
    local peak_tensor_bytes = 0
    for i = 1, 100000 do
      local b = (a + i) * 2 -- two 4 KiB temporaries per iteration, 800 MB in all
      if i % 1000 == 0 then
        local allocated = sb.memory_stats().allocated
        if allocated > peak_tensor_bytes then peak_tensor_bytes = allocated end
      end
      b = nil
    end
    local growth = rss_bytes() - rss0
    assert.is_true(peak_tensor_bytes < 160 * 1024 * 1024,
      ("tensor bytes reached %d"):format(peak_tensor_bytes))
    -- AddressSanitizer keeps freed memory in quarantine: RSS says nothing there.
    local sanitized = (os.getenv("LD_PRELOAD") or ""):find("asan", 1, true)
    if not sanitized then
      assert.is_true(growth < 256 * 1024 * 1024, ("RSS grew by %d bytes"):format(growth))
    end
  end)
end)
