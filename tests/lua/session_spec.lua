describe("sbengine.session", function()
  local session = require "sbengine.session"

  it("runs every finish hook even when one raises, then re-raises the first error", function()
    local ran = {}
    session.at_finish(function() ran[#ran + 1] = "a"; error("boom", 0) end)
    session.at_finish(function() ran[#ran + 1] = "b"; return 3 end)
    local ok, err = pcall(session.finish, true)
    assert.is_false(ok)
    assert.are.equal("boom", err)
    assert.are.same({ "a", "b" }, ran)
  end)

  it("returns the largest exit code a hook asks for", function()
    session.at_finish(function() return 3 end)
    session.at_finish(function() return nil end)
    assert.are.equal(3, session.finish(true))
    assert.is_nil(session.finish(true)) -- hooks run once
  end)

  it("takes check mode from SOTABENCH_CHECK only when the CLI did not set it", function()
    session.configure { check = "params" }
    assert.are.equal("params", session.config.check)
    assert.are.same({}, session.config.metric_dirs)
  end)
end)

describe("require 'sbengine'", function()
  it("loads the C core through sbengine.so and reports the build", function()
    local sb = require "sbengine"
    local core = require "sbengine.core"
    assert.are.equal(core.sys.build_info().version, sb.version)
    assert.truthy(core.sys.build_info().blas:find("OpenBLAS"))
    assert.are.equal("cpu", core.sys.devices()[1].name)
  end)
end)
