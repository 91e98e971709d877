--- Vision Transformers ViT-B/16, B/32, L/16, L/32, H/14 as torchvision 0.14 builds them
-- (torchvision/models/vision_transformer.py), for 224x224 inputs (image_size option).
local nn = require "sbengine.nn"
local ops = require "sbengine.models.ops"
local T = require("sbengine.core").tensor

local M = {}

local function layer_norm(dim)
  return nn.LayerNorm(dim, {eps = 1e-6})
end

local EncoderBlock = nn.Module:extend("EncoderBlock")

function EncoderBlock:init(heads, hidden, mlp_dim, dropout, attention_dropout)
  self.num_heads = heads
  self.ln_1 = layer_norm(hidden)
  self.self_attention = nn.MultiheadAttention(hidden, heads, {dropout = attention_dropout,
    batch_first = true})
  self.dropout = nn.Dropout(dropout)
  self.ln_2 = layer_norm(hidden)
  -- torchvision's MLPBlock: Linear, GELU, Dropout, Linear, Dropout (keys mlp.0, mlp.3).
  self.mlp = nn.Sequential(nn.Linear(hidden, mlp_dim), nn.GELU(), nn.Dropout(dropout),
    nn.Linear(mlp_dim, hidden), nn.Dropout(dropout))
end

function EncoderBlock:forward(input)
  local x = self.ln_1(input)
  x = self.self_attention(x, x, x, {need_weights = false})
  x = self.dropout(x) + input
  return x + self.mlp(self.ln_2(x))
end

local Encoder = nn.Module:extend("Encoder")

function Encoder:init(seq_length, layers, heads, hidden, mlp_dim, dropout, attention_dropout)
  self:register_parameter("pos_embedding", T.randn({1, seq_length, hidden}) * 0.02)
  self.dropout = nn.Dropout(dropout)
  local named = {}
  for i = 0, layers - 1 do
    named[#named + 1] = {"encoder_layer_" .. i,
      EncoderBlock(heads, hidden, mlp_dim, dropout, attention_dropout)}
  end
  self.layers = ops.NamedSequential(named)
  self.ln = layer_norm(hidden)
end

function Encoder:forward(x)
  return self.ln(self.layers(self.dropout(x + self.pos_embedding)))
end

local VisionTransformer = nn.Module:extend("VisionTransformer")

function VisionTransformer:init(patch, layers, heads, hidden, mlp_dim, opts)
  local image_size = opts.image_size or 224
  if math.type(image_size) ~= "integer" or image_size % patch ~= 0 then
    error(("image_size must be a multiple of the patch size %d, got %s"):format(patch,
      tostring(image_size)), 0)
  end
  self.image_size, self.patch_size, self.hidden_dim = image_size, patch, hidden
  self.conv_proj = nn.Conv2d(3, hidden, patch, {stride = patch})
  self:register_parameter("class_token", T.zeros({1, 1, hidden}))
  self.encoder = Encoder((image_size // patch) ^ 2 // 1 + 1, layers, heads, hidden, mlp_dim,
    opts.dropout or 0, opts.attention_dropout or 0)
  self.heads = ops.NamedSequential({{"head", nn.Linear(hidden, opts.num_classes or 1000)}})
end

function VisionTransformer:forward(x)
  local n, h, w = x:size(1), x:size(3), x:size(4)
  if h ~= self.image_size or w ~= self.image_size then
    error(("%s: expected %dx%d images, got %dx%d (build it with image_size = %d to change it)")
      :format(self:class_name(), self.image_size, self.image_size, h, w, h), 2)
  end
  -- [N, hidden, n_h, n_w] -> [N, n_h * n_w, hidden], then the class token in front.
  local patches = self.conv_proj(x)
  patches = patches:reshape(n, self.hidden_dim, -1):permute(1, 3, 2)
  local tokens = T.cat({self.class_token:expand(n, -1, -1), patches}, 2)
  return self.heads(self.encoder(tokens):select(2, 1))
end

-- name -> patch size, layers, heads, hidden width, MLP width
M.variants = {
  vit_b_16 = {16, 12, 12, 768, 3072}, vit_b_32 = {32, 12, 12, 768, 3072},
  vit_l_16 = {16, 24, 16, 1024, 4096}, vit_l_32 = {32, 24, 16, 1024, 4096},
  vit_h_14 = {14, 32, 16, 1280, 5120},
}

function M.build(name, opts)
  local v = M.variants[name]
  return VisionTransformer(v[1], v[2], v[3], v[4], v[5], opts)
end

M.options = {num_classes = true, image_size = true, dropout = true, attention_dropout = true}

return M
