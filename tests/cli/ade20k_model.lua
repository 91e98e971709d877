-- The tiny segmentation model of tests/cli/bench_ade20k.sh: from the normalised image
-- (N, 3, H, W), the label 1 + (R > 63) + (R > 127) + (R > 191) + 4 * (G > 127), classes 1..8,
-- R and G being the pixel levels 0..255 (each threshold sits halfway between two levels after
-- ToTensor and Normalize, so no rounding can move a decision).
-- tools/fixtures/segmentation_tree.py applies the same rule to the decoded pixels.
local mean, std = { 0.485, 0.456, 0.406 }, { 0.229, 0.224, 0.225 }
local function level(c, v) return ((v + 0.5) / 255 - mean[c]) / std[c] end
return function(x)
  local r, g = x:select(2, 1), x:select(2, 2)
  return r:gt(level(1, 63)):float() + r:gt(level(1, 127)):float() + r:gt(level(1, 191)):float()
    + g:gt(level(2, 127)):float() * 4 + 1
end
