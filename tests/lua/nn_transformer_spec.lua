-- sb.nn.LayerNorm and sb.nn.MultiheadAttention (written in Lua over tensor ops) against
-- PyTorch's (tools/fixtures/nn_transformer.py): max abs error at most 1e-5 relative to the
-- largest reference value; 1e-4 for LayerNorm's input at an offset of 1000, where float32
-- itself holds x to 6e-5 (its spacing at 1000), which is 2e-5 of the rows' spread of 3.
local sb = require "sbengine"

local t = sb.io.load_safetensors((os.getenv("SBENGINE_FIXTURES") or "tests/fixtures") ..
  "/nn/transformer.safetensors")

local function close(want, got, what, tolerance)
  assert.are.same(want:size(), got:size(), what)
  local err = (got - want):abs():max():item()
  local scale = math.max(1, want:abs():max():item())
  assert.is_true(err <= (tolerance or 1e-5) * scale, ("%s: max abs error %g"):format(what, err))
end

local function state(prefix)
  local sd = {}
  for k, v in pairs(t) do
    if k:sub(1, #prefix) == prefix then sd[k:sub(#prefix + 1)] = v end
  end
  return sd
end

describe("sb.nn.LayerNorm", function()
  it("normalises the last dim with weight and bias as PyTorch, also far from zero", function()
    local ln = sb.nn.LayerNorm(6, {eps = 1e-6})
    ln:load_state_dict({weight = t.ln1_weight, bias = t.ln1_bias})
    close(t.ln1_out, ln(t.ln_input), "LayerNorm(6)", 1e-4)
    -- a non-contiguous input gives the same values
    close(t.ln1_out, ln(t.ln_input:transpose(2, 3):contiguous():transpose(2, 3)), "transposed", 1e-4)
    assert.equal("LayerNorm((6,), eps=1e-06, elementwise_affine=true)", tostring(ln))
  end)

  it("normalises two trailing dims without the affine part", function()
    local ln = sb.nn.LayerNorm({4, 6}, {elementwise_affine = false})
    assert.are.same({}, ln:state_dict())
    close(t.ln2_out, ln(t.ln_input), "LayerNorm({4, 6})", 1e-4)
  end)

  it("says what is wrong with a shape", function()
    local ok, err = pcall(sb.nn.LayerNorm(5), t.ln_input)
    assert.is_false(ok)
    assert.truthy(err:find("LayerNorm: input of shape [2, 3, 4, 6] does not end with normalized_shape [5]", 1, true), err)
    ok, err = pcall(sb.nn.LayerNorm, 0)
    assert.truthy(err:find("normalized_shape must be a positive integer, got 0", 1, true), err)
  end)
end)

describe("sb.nn.MultiheadAttention", function()
  it("has PyTorch's state_dict keys and shapes", function()
    local m = sb.nn.MultiheadAttention(12, 3, {batch_first = true})
    local sd = m:state_dict()
    assert.are.same({36, 12}, sd.in_proj_weight:size())
    assert.are.same({36}, sd.in_proj_bias:size())
    assert.are.same({12, 12}, sd["out_proj.weight"]:size())
    assert.are.same({12}, sd["out_proj.bias"]:size())
  end)

  it("batch_first: output and attention weights (averaged and per head) as PyTorch", function()
    local m = sb.nn.MultiheadAttention(12, 3, {batch_first = true})
    m:load_state_dict(state("mha."))
    local out, w = m(t.mha_q, t.mha_k, t.mha_v)
    close(t.mha_out, out, "output")
    close(t.mha_weights, w, "averaged weights")
    local _, wh = m(t.mha_q, t.mha_k, t.mha_v, {average_attn_weights = false})
    close(t.mha_weights_per_head, wh, "per-head weights")
    local self_out, none = m(t.mha_q, t.mha_q, t.mha_q, {need_weights = false})
    close(t.mha_self_out, self_out, "self-attention")
    assert.is_nil(none)
  end)

  it("sequence-first (PyTorch's default layout [L, N, E])", function()
    local m = sb.nn.MultiheadAttention(12, 4)
    m:load_state_dict(state("mha_sf."))
    local out, w = m(t.mha_q:transpose(1, 2), t.mha_k:transpose(1, 2), t.mha_v:transpose(1, 2))
    close(t.mha_sf_out, out, "output")
    close(t.mha_sf_weights, w, "weights")
  end)

  it("refuses widths that do not divide into heads, and inputs of another width", function()
    local ok, err = pcall(sb.nn.MultiheadAttention, 10, 3)
    assert.truthy(err:find("embed_dim (10) must be divisible by num_heads (3)", 1, true), err)
    ok, err = pcall(sb.nn.MultiheadAttention(12, 3), sb.randn(2, 5, 8))
    assert.is_false(ok)
    assert.truthy(err:find("expected 3-D inputs with embed_dim 12 as the last dim, got [2, 5, 8]", 1, true), err)
  end)
end)
