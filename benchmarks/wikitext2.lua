--- WikiText-2: language modelling on the test split, word level, scored by per-token
-- perplexity (base e), "Test perplexity"; the same setup as benchmarks/wikitext103.lua (whose
-- loader, output check and metric it reuses) over sb.data.WikiText2.
--   local WikiText2 = require "sbengine.benchmarks.wikitext2"
--   local result = WikiText2.benchmark{model = model, paper_model_name = "..."}
-- As the main script: sbengine benchmarks/wikitext2.lua MODEL.lua (see --help).
local sb = require "sbengine"
local W103 = require "sbengine.benchmarks.wikitext103"

return sb.bench.define{
  name = "WikiText2",
  dataset_name = "WikiText-2",
  task = W103.task,
  dataset = function(o)
    return sb.data.WikiText2{ root = o.data_root, split = "test", vocab = o.vocab }
  end,
  loader = W103.loader,
  check_outputs = W103.check_outputs,
  options = W103.options,
  defaults = { data_root = "./.data/nlp/wikitext-2", batch_size = 10, bptt = 35, num_workers = 0 },
  metrics = W103.metrics,
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "wikitext-2/wiki.test.tokens (and wiki.train.tokens, wiki.valid.tokens: the "
    .. "vocabulary is built from them as word_language_model's Corpus does; or give vocab)",
}
