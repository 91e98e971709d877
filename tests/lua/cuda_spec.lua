-- sb.cuda on any machine: the API answers without a GPU, and "no GPU" comes with a reason.
-- (GPU behaviour is in tests/lua/gpu/.)
local sb = require "sbengine"

local function run_engine(env, code)
  local cmd = string.format("%s %s -e %q 2>&1", env, os.getenv("SBENGINE"), code)
  local p = assert(io.popen(cmd))
  local out = p:read("a")
  p:close()
  return out
end

describe("sb.cuda", function()
  it("answers every function", function()
    assert.is_boolean((sb.cuda.available()))
    assert.is_true(math.type(sb.cuda.device_count()) == "integer")
    local s = sb.cuda.memory_stats()
    assert.is_true(math.type(s.allocated) == "integer")
    assert.is_true(s.max_allocated >= s.allocated)
    assert.is_true(s.reserved >= s.allocated)
    sb.cuda.reset_peak()
    sb.cuda.empty_cache()
    sb.cuda.synchronize()
  end)

  it("allow_tf32 is off by default, and toggles", function()
    assert.is_false(sb.cuda.allow_tf32())
    assert.is_true(sb.cuda.allow_tf32(true))
    assert.is_true(sb.cuda.allow_tf32())
    assert.is_false(sb.cuda.allow_tf32(false))
    assert.has_error(function() sb.cuda.allow_tf32("yes") end)
  end)

  it("names a bad device argument", function()
    local ok, err = pcall(sb.cuda.memory_stats, "cpu")
    assert.is_false(ok)
    assert.matches('CUDA device expected %(an ordinal, "cuda" or "cuda:N"%), got cpu', err)
    assert.is_true(pcall(sb.cuda.memory_stats, "cuda:0"))
    assert.is_true(pcall(sb.cuda.memory_stats, 0))
  end)
end)

describe("sb.cuda without a GPU", function()
  if sb.cuda.available() then
    pending("a GPU is visible here")
    return
  end

  it("is not available, says why, and has no memory in use", function()
    local ok, why = sb.cuda.available()
    assert.is_false(ok)
    assert.is_string(why)
    assert.is_true(#why > 0)
    assert.are.equal(0, sb.cuda.device_count())
    assert.are.same({ allocated = 0, max_allocated = 0, reserved = 0 }, sb.cuda.memory_stats())
  end)

  it("raises 'CUDA is not available: <reason>' for a device that is asked for", function()
    local _, why = sb.cuda.available()
    local ok, err = pcall(sb.cuda.synchronize, "cuda:0")
    assert.is_false(ok)
    assert.matches("sb.cuda.synchronize: CUDA is not available: ", err, 1, true)
    assert.matches(why, err, 1, true)
  end)

  it("t:cuda(), :to('cuda') and device='cuda' raise 'CUDA is not available: <reason>'", function()
    local _, why = sb.cuda.available()
    local t = sb.tensor({ 1, 2, 3 })
    for _, f in ipairs {
      function() return t:cuda() end,
      function() return t:to("cuda:0") end,
      function() return sb.zeros(2, 3, { device = "cuda" }) end,
    } do
      local ok, err = pcall(f)
      assert.is_false(ok)
      assert.matches("CUDA is not available: " .. why, err, 1, true)
    end
    -- the CPU tensor is untouched and the engine keeps working
    assert.are.same({ 1, 2, 3 }, t:totable())
  end)

  it("reports a missing plugin as the reason", function()
    local out = run_engine("SBENGINE_CUDA_PLUGIN=/nonexistent/sbengine_cuda.so",
      "print(sb.cuda.available()) print(pcall(sb.tensor({1}).cuda, sb.tensor({1})))")
    if out:match("no CUDA support") then return end -- a build without CUDA says that instead
    assert.matches("false\tcannot load the CUDA plugin: /nonexistent/sbengine_cuda.so", out, 1, true)
    assert.matches("false\tcuda: CUDA is not available: cannot load the CUDA plugin: " ..
      "/nonexistent/sbengine_cuda.so", out, 1, true)
  end)
end)
