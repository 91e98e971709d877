--- sb.image: reading and writing images (docs/data.md#images).
--   sb.image.load(path [, {mode}]) -> uint8 [H, W, 3], as PIL.Image.open(path).convert("RGB");
--     mode "L": convert("L"), [H, W]; "P": a palette PNG's indices, [H, W]
--   sb.image.decode(bytes [, name] [, {mode}]) -> the same from the bytes of a JPEG or PNG file
--   sb.image.save_png(path, t)  t: uint8 [H, W] or [H, W, C] with C = 1, 3 or 4
--   sb.image.set_max_pixels(n) -> previous limit (PIL's 89,478,485 by default; 0 = none)
--   sb.image.max_pixels() -> the limit
return require("sbengine.core").image
