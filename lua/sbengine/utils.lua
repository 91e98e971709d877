--- sb.utils: torchbench's helpers for moving a model and its data to a device.
--
--   local model, device = sb.utils.send_model_to_device(model, {device = "cuda"})
--   input, target = sb.utils.default_data_to_device(input, target, device)
local session = require "sbengine.session"

local utils = {}

local function api() return require "sbengine" end

local announced = false

-- Says once per run (on stderr, not with --quiet) which device the default picked and why, so a
-- run that fell back to the CPU cannot pass for a GPU run.
local function announce(device, why)
  if announced or session.config.quiet then return end
  announced = true
  io.stderr:write(("sbengine: device %s (%s; --device D chooses)\n"):format(device, why))
end

--- The device a run uses when nothing asks for one: `--device` on the command line, else
-- "cuda" when a GPU is visible, else "cpu". The choice made here is printed once, with why.
function utils.default_device()
  if session.config.device then return session.config.device end
  local sb = api()
  local available, why = sb.cuda.available()
  if available then
    local dev = require("sbengine.core").sys.devices()[2]
    announce("cuda", "the default: a GPU is visible"
      .. (dev and dev.description and (", " .. dev.description) or ""))
    return "cuda"
  end
  announce("cpu", "the default: no usable GPU: " .. tostring(why))
  return "cpu"
end

local function check_device(device, what)
  if type(device) ~= "string" or not (device == "cpu" or device == "cuda"
      or device:match("^cuda:%d+$")) then
    error(("%s: device must be \"cpu\", \"cuda\" or \"cuda:N\", got %s"):format(
      what, type(device) == "string" and ("%q"):format(device) or type(device)), 3)
  end
  if device ~= "cpu" then
    local sb = api()
    local available, why = sb.cuda.available()
    if not available then
      error(("%s: device %q was asked for but CUDA is not usable: %s; "
        .. "use device = \"cpu\" (or leave device unset to pick the GPU when there is one)")
        :format(what, device, tostring(why)), 3)
    end
  end
end

--- Moves `model` to the device and puts it in evaluation mode.
-- `opts.device` defaults to `utils.default_device()`; `opts.num_gpu` (default 1) must be 1:
-- sbengine runs a model on one device. A plain Lua function (anything callable without a
-- `to` method) is returned as it is. Returns model, device.
function utils.send_model_to_device(model, opts)
  opts = opts or {}
  local device = opts.device or utils.default_device()
  check_device(device, "send_model_to_device")
  local num_gpu = opts.num_gpu or 1
  if num_gpu ~= 1 then
    error(("send_model_to_device: num_gpu must be 1 (sbengine evaluates on one device), got %s")
      :format(tostring(num_gpu)), 2)
  end
  if type(model) == "table" or type(model) == "userdata" then
    if type(model.to) == "function" then
      model = model:to(device) or model
    end
    if type(model.eval) == "function" then model:eval() end
  end
  return model, device
end

local function tensor_to(x, device)
  if x == nil then return nil end
  local ok, where = pcall(function() return x:device() end)
  if ok and where ~= device then return x:to(device) end
  return x
end

--- Sends a batch to the device (tensors already there are returned unchanged).
-- With the DataLoader's pinned buffers the copies are asynchronous on the engine's stream.
function utils.default_data_to_device(input, target, device)
  device = device or utils.default_device()
  return tensor_to(input, device), tensor_to(target, device)
end

return utils
