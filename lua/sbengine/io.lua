--- sb.io: model weights on disk (docs/nn.md#safetensors).
--   sb.io.load_safetensors(path [, {device = "cpu"}]) -> {name = tensor}, {key = value}
--   sb.io.save_safetensors(path, {name = tensor} [, {metadata = {key = value}}])
return require("sbengine.core").io
