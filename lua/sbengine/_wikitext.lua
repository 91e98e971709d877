-- sb.data.WikiText103 / sb.data.WikiText2 (internal; docs/data.md): the token files read as
-- PyTorch's word_language_model example reads them (its data.py Corpus: whitespace-split
-- lines, "<eos>" after each, ids in the order words first appear over the train, valid and
-- test files) into an int64 tensor of ids, and its batchify + get_batch as
-- stream:batches{batch_size, bptt}. The reading is in C (engine/data/text_corpus.c).
local core = require "sbengine.core"
local util = require "sbengine._util"

local M = {}

local SETS = {
  WikiText103 = { name = "WikiText-103", folder = "wikitext-103" },
  WikiText2 = { name = "WikiText-2", folder = "wikitext-2" },
}
local OPTIONS = { root = true, split = true, raw = true, vocab = true }
local SPLITS = { train = true, valid = true, test = true }

-- ---- the vocabulary ------------------------------------------------------------------------

local Vocab = {}
Vocab.__index = Vocab
Vocab.__name = "sb.data.Vocab"

local function new_vocab(c) return setmetatable({ _c = c }, Vocab) end

function Vocab:__len() return #self._c end

--- vocab:id(word) -> its id (0-based, as PyTorch's), or nil.
function Vocab:id(word) return self._c:find(word) end

--- vocab:word(id) -> the word of id (0-based).
function Vocab:word(id) return self._c:word(id) end

function Vocab:__tostring() return ("Vocab (%d words)"):format(#self._c) end

-- ---- batches -------------------------------------------------------------------------------

local Batches = {}
Batches.__index = Batches
Batches.__name = "sb.data.WikiTextBatches"

function Batches:__len() return self.count end

-- Batch k (1-based): rows i .. i+seq_len-1 of the batchified data and, one row later, the
-- targets, flattened (get_batch).
local function batch(self, k)
  local i = (k - 1) * self.bptt
  local seq_len = math.min(self.bptt, self.rows - 1 - i)
  local input = self.data:narrow(1, i + 1, seq_len)
  local target = self.data:narrow(1, i + 2, seq_len):reshape(-1)
  return input, target
end

--- for k, input, target in batches:iter() do ... end  (k = the 1-based batch number)
function Batches:iter()
  local k = 0
  return function()
    if k >= self.count then return nil end
    k = k + 1
    return k, batch(self, k)
  end
end

--- for input, target in stream:batches{...} do ... end
function Batches:__call()
  self.next = (self.next or 0) + 1
  if self.next > self.count then return nil end
  return batch(self, self.next)
end

function Batches:__tostring()
  return ("WikiText batches (%d of bptt %d x batch_size %d)"):format(self.count, self.bptt,
    self.batch_size)
end

-- ---- the stream ----------------------------------------------------------------------------

local Stream = {}
Stream.__index = Stream
Stream.__name = "sb.data.WikiText"

function Stream:__len() return self.ids:size(1) end

function Stream:__tostring()
  return ("%s %s split (%d tokens, vocabulary of %d)"):format(self.name, self.split, #self,
    #self.vocab)
end

local function check_count(fn, name, v)
  if math.type(v) ~= "integer" or v < 1 then
    error(("%s: option %s must be a whole number >= 1, got %s"):format(fn, name, tostring(v)), 3)
  end
  return v
end

--- stream:batches{batch_size = 10, bptt = 35} -> the (input, target) batches of
-- word_language_model's evaluate(): the ids cut into batch_size columns (the tokens that do
-- not fill a row are dropped), input (seq_len, batch_size) int64 ids, target (seq_len *
-- batch_size) the next token of each.
function Stream:batches(opts)
  local fn = self.name .. ":batches"
  opts = util.check_options(fn, opts, { batch_size = true, bptt = true }, 2)
  local bsz = check_count(fn, "batch_size", opts.batch_size or 10)
  local bptt = check_count(fn, "bptt", opts.bptt or 35)
  local rows = #self // bsz
  local data = nil
  if rows > 0 then
    data = self.ids:narrow(1, 1, rows * bsz):view(bsz, rows):t():contiguous()
  end
  local count = rows > 1 and (rows - 1 + bptt - 1) // bptt or 0
  return setmetatable({ data = data, rows = rows, bptt = bptt, batch_size = bsz,
    count = count }, Batches)
end

--- stream:check_outputs(output, target, where): what a language-model benchmark checks after
-- the first batch: output (N, #vocab) scores for the N = seq_len * batch_size targets, with a
-- fix when it can work. `where` names the benchmark in messages.
function Stream:check_outputs(output, target, where)
  local sb = require "sbengine"
  local v = #self.vocab
  local n = sb.is_tensor(target) and target:numel() or 0
  local function fix(body)
    return ("\nTo fix it, keep the model and pass a function that converts its output:\n  "
      .. "%s{model = model, model_output_transform = function(output, target) return %s end, "
      .. "...}"):format(where, body)
  end
  if not sb.is_tensor(output) then
    error(("%s: the model returned a %s; expected a tensor (seq_len * batch_size, %d) of "
      .. "scores (logits or log-probabilities) over the vocabulary"):format(where, type(output),
        v), 0)
  end
  if output:dim() == 3 and output:size(3) == v and output:size(1) * output:size(2) == n then
    error(("%s: the model returned a tensor of shape %s; expected 2 dimensions (%d, %d), one "
      .. "row per target token%s"):format(where, util.shape_text(output), n, v,
        fix(("output:reshape(-1, %d)"):format(v))), 0)
  end
  if output:dim() ~= 2 or output:size(1) ~= n or output:size(2) ~= v then
    error(("%s: the model returned a tensor of shape %s; expected (%d, %d): one row of scores "
      .. "over the %d words of the vocabulary for each of the %d target tokens (seq_len x "
      .. "batch_size, in the input's order)"):format(where, util.shape_text(output), n, v, v, n), 0)
  end
end

-- ---- opening -------------------------------------------------------------------------------

-- root/<folder>[-raw]/wiki.<split>.tokens|raw, else root/wiki.<split>.tokens|raw.
local function find_file(set, root, split, raw, fn)
  local folder = set.folder .. (raw and "-raw" or "")
  local name = ("wiki.%s.%s"):format(split, raw and "raw" or "tokens")
  local candidates = { root .. "/" .. folder .. "/" .. name, root .. "/" .. name }
  for _, path in ipairs(candidates) do
    if util.file_exists(path) then return path end
  end
  error(("%s: %s is not in %s (looked for %s)"):format(fn, name, root,
    table.concat(candidates, " and ")), 4)
end

local function build_vocab(set, opts, fn)
  local v = opts.vocab
  if getmetatable(v) == Vocab then return v end
  local c = core.data.vocab_new()
  local ok, err = pcall(function()
    if v == nil then -- the Corpus: train, valid and test in that order
      for _, split in ipairs { "train", "valid", "test" } do
        c:add_text_file(find_file(set, opts.root, split, opts.raw, fn))
      end
    elseif type(v) == "string" then
      c:add_list_file(v)
    elseif type(v) == "table" then
      for i, word in ipairs(v) do
        if type(word) ~= "string" then
          error(("vocab[%d] must be a string, got %s"):format(i, type(word)), 0)
        end
        if c:find(word) then error(("vocab[%d]: \"%s\" is already in it"):format(i, word), 0) end
        c:add(word)
      end
      if #v == 0 then error("the vocab list is empty", 0) end
    else
      error("option vocab must be a vocabulary file's path, a list of words or another "
        .. "stream's vocab, got " .. type(v), 0)
    end
  end)
  if not ok then
    c:close()
    local msg = tostring(err):gsub("^[^:\n]*%.lua:%d+: ", "")
    if msg:sub(1, #fn + 2) ~= fn .. ": " then msg = fn .. ": " .. msg end
    error(msg, 4)
  end
  return new_vocab(c)
end

--- Opens a WikiText split: `class` is "WikiText103" or "WikiText2".
function M.open(class, opts)
  local set = SETS[class]
  local fn = "sb.data." .. class
  opts = util.check_options(fn, opts, OPTIONS, 3)
  if type(opts.root) ~= "string" then
    error(("%s: option root must be the folder that holds %s/ (wiki.test.tokens ...)")
      :format(fn, set.folder), 3)
  end
  local split = opts.split or "test"
  if not SPLITS[split] then
    error(("%s: option split must be \"train\", \"valid\" or \"test\", got %s"):format(fn,
      tostring(split)), 3)
  end
  if opts.raw ~= nil and type(opts.raw) ~= "boolean" then
    error(("%s: option raw must be a boolean, got %s"):format(fn, type(opts.raw)), 3)
  end
  local path = find_file(set, opts.root, split, opts.raw, fn)
  local vocab = build_vocab(set, opts, fn)
  local unk = opts.vocab ~= nil and vocab:id("<unk>") or nil
  local ok, ids = pcall(vocab._c.encode_file, vocab._c, path, unk)
  if not ok then error(("%s: %s"):format(fn, tostring(ids)), 3) end
  return setmetatable({ name = set.name, split = split, path = path, raw = opts.raw or false,
    vocab = vocab, ids = ids }, Stream)
end

return M
