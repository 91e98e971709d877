--- sb.io: model weights on disk (docs/nn.md#safetensors, docs/nn.md#pytorch-checkpoints).
--   sb.io.load_safetensors(path [, {device = "cpu"}]) -> {name = tensor}, {key = value}
--   sb.io.save_safetensors(path, {name = tensor} [, {metadata = {key = value}}])
--   sb.io.load_pytorch(path [, {key, strip_prefix, device}]) -> {name = tensor}, {name = dtype}
local core = require("sbengine.core").io

local M = {
  load_safetensors = core.load_safetensors,
  save_safetensors = core.save_safetensors,
}

local pytorch_options = {key = true, strip_prefix = true, device = true}

--- Reads the state dict of a checkpoint written by torch.save (zip or legacy format), in
-- C and without running any code. `key` picks the state dict inside a wrapping dict (a
-- string, or an array of strings for nested dicts); `strip_prefix` removes a prefix such
-- as "module." from the names. Returns the tensors and, per name, torch's dtype in the file.
function M.load_pytorch(path, opts)
  if type(path) ~= "string" then
    error("load_pytorch: expected a file path (string), got " .. type(path), 2)
  end
  opts = opts or {}
  if type(opts) ~= "table" then
    error("load_pytorch: options must be a table, got " .. type(opts), 2)
  end
  for k in pairs(opts) do
    if not pytorch_options[k] then
      error("load_pytorch: unknown option '" .. tostring(k) .. "' (known: device, key, strip_prefix)", 2)
    end
  end
  local key = opts.key
  if type(key) == "string" then
    key = {key}
  elseif key ~= nil and type(key) ~= "table" then
    error("load_pytorch: key must be a string or an array of strings, got " .. type(key), 2)
  end
  if opts.strip_prefix ~= nil and type(opts.strip_prefix) ~= "string" then
    error("load_pytorch: strip_prefix must be a string, got " .. type(opts.strip_prefix), 2)
  end
  if opts.device ~= nil and type(opts.device) ~= "string" then
    error("load_pytorch: device must be a string, got " .. type(opts.device), 2)
  end
  -- Through pcall, so that the error names the caller's line rather than this file's.
  local ok, tensors, dtypes = pcall(core.load_pytorch, path, key, opts.strip_prefix, opts.device)
  if not ok then error(tensors, 2) end
  return tensors, dtypes
end

-- The legacy torch.save format's magic number (a pickled LONG1), as it appears in the file.
local legacy_magic = "\138\10\108\252\156\70\249\32\106\168\80\25"

--- The format of a weights file from its first bytes: "pytorch" (a torch.save zip or legacy
-- file), "safetensors", or nil when it is neither (or cannot be read).
function M.weights_format(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local head = f:read(32) or ""
  f:close()
  if head:sub(1, 4) == "PK\3\4" then return "pytorch" end
  local at = head:find(legacy_magic, 1, true)
  if head:sub(1, 1) == "\128" and at and at <= 12 then return "pytorch" end
  if #head >= 9 and head:sub(9, 9) == "{" then return "safetensors" end
  return nil
end

return M
