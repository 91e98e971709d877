--- WikiText-103: language modelling on the test split, word level, scored by
-- per-token perplexity (base e) as sotabench reported it ("Test perplexity"). The stream and
-- its batches are PyTorch's word_language_model example's (batchify, bptt chunks): the model
-- gets input (seq_len, batch_size) int64 token ids and returns (seq_len * batch_size,
-- vocabulary) logits or log-probabilities; batches come in order, so a recurrent model may
-- carry its state from one call to the next.
--   local WikiText103 = require "sbengine.benchmarks.wikitext103"
--   local result = WikiText103.benchmark{model = model, paper_model_name = "..."}
-- As the main script: sbengine benchmarks/wikitext103.lua MODEL.lua (see --help).
local sb = require "sbengine"

return sb.bench.define{
  name = "WikiText103",
  dataset_name = "WikiText-103",
  task = "Language Modelling",
  dataset = function(o)
    return sb.data.WikiText103{ root = o.data_root, split = "test", vocab = o.vocab }
  end,
  loader = function(stream, o) return stream:batches{ batch_size = o.batch_size, bptt = o.bptt } end,
  check_outputs = function(output, target, where, stream)
    stream:check_outputs(output, target, where)
  end,
  options = { bptt = "a whole number >= 1", vocab = "a vocabulary file, list or vocab" },
  defaults = { data_root = "./.data/nlp/wikitext-103", batch_size = 10, bptt = 35,
    num_workers = 0 },
  metrics = { { "perplexity", name = "Test perplexity" } },
  data_help = "point data_root (or --data-root DIR) at the folder that holds "
    .. "wikitext-103/wiki.test.tokens (and wiki.train.tokens, wiki.valid.tokens: the "
    .. "vocabulary is built from them as word_language_model's Corpus does; or give vocab)",
}
