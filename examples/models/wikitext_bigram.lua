-- A bigram language model for benchmarks/wikitext103.lua and wikitext2.lua: add-one smoothed
-- counts of consecutive tokens of the train split, log p(b | a) = log((count(a, b) + 1) /
-- (count(a) + V)), returned as log-probabilities. It is what tools/fixtures/wikitext.py runs
-- through word_language_model's evaluate loop, so its perplexity on the test trees is known.
--
--   sbengine --data-root tests/fixtures/wikitext bench wikitext2 \
--     examples/models/wikitext_bigram.lua wikitext2 tests/fixtures/wikitext
--
-- Arguments: the dataset ("wikitext2", the default, or "wikitext103"), its root (default: the
-- benchmark's data_root), and "raw" for the -raw files. Each output row is a dense row over
-- the vocabulary built in Lua: fine for the test trees and WikiText-2, slow for WikiText-103.
local sb = require "sbengine"

local set, root, raw = ...
local open = (set == "wikitext103") and sb.data.WikiText103 or sb.data.WikiText2
root = root or require("sbengine.session").config.data_root
  or (set == "wikitext103" and "./.data/nlp/wikitext-103" or "./.data/nlp/wikitext-2")
local train = open { root = root, split = "train", raw = raw == "raw" }
local v = #train.vocab

local ids = train.ids:totable()
local counts, totals = {}, {}
for i = 1, #ids - 1 do
  local a, b = ids[i] + 1, ids[i + 1] + 1
  counts[a] = counts[a] or {}
  counts[a][b] = (counts[a][b] or 0) + 1
  totals[a] = (totals[a] or 0) + 1
end

local rows = {} -- row a + 1: log p(. | a), built on first use
local function row(a)
  local r = rows[a]
  if r then return r end
  local n, c = totals[a] or 0, counts[a] or {}
  r = {}
  local base = math.log(1 / (n + v))
  for b = 1, v do r[b] = c[b] and math.log((c[b] + 1) / (n + v)) or base end
  rows[a] = r
  return r
end

-- input (seq_len, batch_size) int64 ids -> (seq_len * batch_size, V) log-probabilities
return function(input)
  local out = {}
  for i, id in ipairs(input:reshape(-1):totable()) do out[i] = row(id + 1) end
  return sb.tensor(out, { dtype = "float64" })
end
