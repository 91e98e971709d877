-- The benchmark definitions as a LuaRocks rock, for an sbengine installed without this
-- source tree. From this folder:
--   luarocks --lua-version 5.4 make --local sbengine-benchmarks-scm-1.rockspec
-- installs them under ~/.luarocks/share/lua/5.4/sbengine/benchmarks/, where sbengine finds
-- `require "sbengine.benchmarks.mnist"` (it adds that tree to package.path).
rockspec_format = "3.0"
package = "sbengine-benchmarks"
version = "scm-1"
-- `luarocks make` builds from this folder; the format requires a source all the same.
source = { url = "file://." }
description = {
  summary = "sbengine's benchmark definitions: MNIST, CIFAR-10, CIFAR-100, ImageNet, STL10, SVHN",
  detailed = "torchbench-compatible benchmarks for the sbengine evaluation engine.",
}
dependencies = { "lua >= 5.4" }
build = {
  type = "builtin",
  modules = {
    ["sbengine.benchmarks.mnist"] = "mnist.lua",
    ["sbengine.benchmarks.cifar10"] = "cifar10.lua",
    ["sbengine.benchmarks.cifar100"] = "cifar100.lua",
    ["sbengine.benchmarks.imagenet"] = "imagenet.lua",
    ["sbengine.benchmarks.stl10"] = "stl10.lua",
    ["sbengine.benchmarks.svhn"] = "svhn.lua",
    ["sbengine.benchmarks.coco"] = "coco.lua",
    ["sbengine.benchmarks.wikitext103"] = "wikitext103.lua",
    ["sbengine.benchmarks.wikitext2"] = "wikitext2.lua",
    ["sbengine.benchmarks.ade20k"] = "ade20k.lua",
    ["sbengine.benchmarks.voc_segmentation"] = "voc_segmentation.lua",
  },
}
