-- Every misuse is a Lua error naming the op, the argument and what was expected
-- (table-driven, lua-cjson's tests/test.lua style: {name, fn, args, message}).
local sb = require "sbengine"

local a = sb.zeros(2, 3)
local v3 = sb.zeros(4)
local freed = sb.zeros(1)
freed:free()

local function method(name)
  return function(self, ...) return self[name](self, ...) end
end

local cases = {
  { "broadcast mismatch names both shapes", method "add", { a, v3 },
    "add: shapes [2, 3] and [4] cannot be broadcast together" },
  { "metamethod mismatch", function(x, y) return x * y end, { a, v3 },
    "mul: shapes [2, 3] and [4] cannot be broadcast together" },
  { "comparison mismatch", method "eq", { a, v3 }, "eq: shapes [2, 3] and [4] cannot be broadcast" },
  { "arith with a string", method "add", { a, "x" }, "add: expected a tensor or a number, got string" },
  { "bad dim", method "sum", { a, 3 },
    "sum: dim 3 is out of range for a 2-D tensor [2, 3] (expected 1..2 or -2..-1)" },
  { "dim 0 is not Lua", method "size", { a, 0 }, "size: dim 0 is out of range for a 2-D tensor" },
  { "non-integer dim", method "narrow", { a, 1.5, 1, 1 }, "narrow: dim must be an integer, got 1.5" },
  { "index out of range", function(t) return t[3] end, { a },
    "index: index 3 is out of range for dim 1 of size 2 (expected 1..2 or -2..-1)" },
  { "select out of range", method "select", { a, 2, 4 },
    "select: index 4 is out of range for dim 2 of size 3" },
  { "narrow out of range", method "narrow", { a, 2, 2, 3 },
    "narrow: start 2 length 3 is out of range for dim 2 of size 3 in [2, 3]" },
  { "assign a string", function(t) t[1] = "x" end, { a },
    "index: the assigned value must be a number or a tensor, got string" },
  { "negative size", sb.zeros, { 2, -1 }, "zeros: invalid shape [2, -1]: sizes must be non-negative" },
  { "overflowing size", sb.empty, { 1 << 40, 1 << 40 }, "empty: invalid shape [1099511627776, 1099511627776]: the number of bytes overflows" },
  { "allocation failure", sb.empty, { 1 << 50 }, "empty: out of memory: cannot allocate 4.0 PiB" },
  { "non-integer size", sb.zeros, { 2.5 }, "zeros: size 1 must be an integer, got 2.5" },
  { "bad shape entry", sb.zeros, { { 2, "x" } }, "zeros: shape entry 2 must be an integer, got string" },
  { "unknown dtype", sb.zeros, { 2, { dtype = "complex" } },
    "zeros: unknown dtype 'complex' (expected float32, float64, int64, int32, uint8, float16 or bfloat16)" },
  { "unknown device", sb.zeros, { 2, { device = "tpu" } },
    "zeros: unknown device 'tpu' (expected \"cpu\", \"cuda\" or \"cuda:N\")" },
  { "to(nonsense)", method "to", { a, "fast" }, "to: 'fast' is neither a dtype" },
  { "view of a transposed tensor", function(t) return t:t():view(6) end, { a },
    "view: cannot view a non-contiguous tensor [3, 2] as [6] (use reshape, or contiguous() first)" },
  { "view to a wrong size", method "view", { a, 4, 2 },
    "view: shape [4, 2] is invalid for a tensor [2, 3] of 6 elements" },
  { "expand", method "expand", { a, 4, 3 }, "expand: cannot expand a tensor [2, 3] to [4, 3]" },
  { "matmul mismatch", method "matmul", { a, a },
    "matmul: shapes [2, 3] and [2, 3] cannot be multiplied (3 columns in the first, 2 rows in the second)" },
  { "matmul batch dims name both whole shapes", function() return sb.zeros(2, 3, 4):matmul(sb.zeros(5, 4, 2)) end, {},
    "matmul: shapes [2, 3, 4] and [5, 4, 2] cannot be multiplied: their batch dims [2] and [5] cannot be broadcast together" },
  { "permute names the repeated dim 1-based", method "permute", { a, 2, 2 },
    "permute: dims must be a permutation of the 2 dims of a tensor [2, 3] (dim 2 is repeated)" },
  { "mm needs 2-D", method "mm", { a, v3 }, "mm: expected two 2-D tensors, got 2-D [2, 3] and 1-D [4]" },
  { "bmm needs 3-D", method "bmm", { a, a }, "bmm: expected two 3-D tensors" },
  { "t() of 3-D", function() return sb.zeros(1, 2, 3):t() end, {},
    "t: expects a tensor with at most 2 dims, got 3-D [1, 2, 3]" },
  { "topk k too large", method "topk", { a, 4 },
    "topk: k = 4 is out of range for dim 2 of size 3 in [2, 3] (expected 0..3)" },
  { "mean of an integer tensor", function() return sb.arange(3):mean() end, {},
    "mean: mean needs a floating-point tensor, got int64" },
  { "max of an empty tensor", function() return sb.zeros(0):max() end, {},
    "max: an empty tensor [0] has no maximum" },
  { "in-place into a narrower dtype", function() return sb.arange(3):add_(0.5) end, {},
    "add_: the result would be float32 but the tensor updated in place is int64" },
  { "item of many", method "item", { a }, "item: needs a tensor with exactly one element, got 6 elements [2, 3]" },
  { "len of 0-D", function() return #sb.zeros({}) end, {}, "#: a 0-D tensor has no length" },
  { "ragged table", sb.tensor, { { { 1, 2 }, { 3 } } }, "tensor: ragged nested table: [2] has 1 entries, expected 2" },
  { "non-number element", sb.tensor, { { 1, "2" } }, "tensor: [2] must be a number, got string" },
  { "from_bytes size", sb.from_bytes, { "abc", { 2 }, "float32" },
    "from_bytes: 3 bytes do not make a float32 tensor [2] (it needs 8 bytes)" },
  { "rand of ints", sb.rand, { 2, { dtype = "int64" } }, "rand: random tensors need a floating dtype, got int64" },
  { "arange step 0", sb.arange, { 0, 1, 0 }, "arange: start, end and step must be finite and step non-zero" },
  { "freed tensor", method "sum", { freed }, "tensor was freed (t:free() or <close>) and cannot be used" },
  { "freed tensor as an argument", method "add", { a, freed }, "tensor was freed" },
  { "not a tensor", function(t) return t:copy({}) end, { a },
    "bad argument #1 to 'copy' (tensor expected, got table)" },
  { "float16 math on the CPU", function() return sb.zeros(2, { dtype = "float16" }):exp() end, {},
    "exp: exp is not implemented for float16 tensors on the CPU" },
  { "writing into an expanded view", function() return sb.zeros(3, 1):expand(3, 4):add_(1) end, {},
    "add_: the tensor [3, 4] written to is an expanded view (several positions share one element): clone() it first" },
  { "copying into an expanded view", function() return sb.zeros(1):expand(4):copy(sb.ones(4)) end, {},
    "copy: the tensor [4] written to is an expanded view" },
  { "cat of mismatched shapes", sb.cat, { { sb.ones(2, 3), sb.zeros(2, 2) } },
    "cat: entry 2 has shape [2, 2], which does not match the first one's [2, 3] outside the concatenated dim" },
  { "cat of a number", sb.cat, { { sb.ones(2), 5 } }, "cat: entry 2 must be a tensor, got number" },
  { "cat of nothing", sb.cat, { {} }, "cat: expected a non-empty table of tensors" },
  { "cat dim", sb.cat, { { sb.ones(2, 3) }, 3 },
    "cat: dim 3 is out of range for concatenating tensors [2, 3] (expected 1..2 or -2..-1)" },
  { "stack of unequal shapes", sb.stack, { { sb.ones(2, 3), sb.zeros(2, 2) } },
    "stack: entry 2 has shape [2, 2], the first one [2, 3]: stack needs equal shapes" },
  { "threads", sb.set_num_threads, { 0 }, "set_num_threads: n must be between 1 and 1024, got 0" },
}

describe("tensor errors", function()
  for _, c in ipairs(cases) do
    local name, fn, args, message = c[1], c[2], c[3], c[4]
    it(name, function()
      local ok, err = pcall(fn, table.unpack(args))
      assert.is_false(ok, name .. " should fail")
      assert.is_string(err)
      assert(err:find(message, 1, true), ("expected %q in %q"):format(message, err))
    end)
  end

  it("CUDA without a backend says why", function()
    local ok, err = pcall(sb.zeros, 2, { device = "cuda" })
    if ok then return end -- a CUDA backend is registered on this machine
    assert.truthy(err:find("zeros: CUDA is not available", 1, true), err)
  end)
end)
