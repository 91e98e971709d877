-- sb.data.WikiText103 / WikiText2 against PyTorch's word_language_model example
-- (tests/fixtures/wikitext/expected.json, written by tools/fixtures/wikitext.py): the
-- vocabulary and ids of its Corpus, and the test perplexity of its batchify + evaluate loop
-- for a uniform and a bigram model, through stream:batches and the perplexity meter.
local sb = require "sbengine"
local cjson = require "cjson"
local tmp = require "tmpfiles"

local root = os.getenv("SBENGINE_FIXTURES") .. "/wikitext"
local expected
do
  local f = assert(io.open(root .. "/expected.json"))
  expected = cjson.decode(f:read("a"))
  f:close()
end

local TREES = {
  { key = "wikitext-103", open = sb.data.WikiText103, opts = {} },
  { key = "wikitext-2", open = sb.data.WikiText2, opts = {} },
  { key = "wikitext-2-raw", open = sb.data.WikiText2, opts = { raw = true } },
}

local function open(tree, split, extra)
  local o = { root = root, split = split }
  for k, v in pairs(tree.opts) do o[k] = v end
  for k, v in pairs(extra or {}) do o[k] = v end
  return tree.open(o)
end

-- The fixture script's bigram model (add-one smoothed counts of the train ids, as
-- log-probabilities): examples/models/wikitext_bigram.lua.
local function bigram_model(tree)
  local chunk = assert(loadfile(os.getenv("SBENGINE_SOURCE_DIR")
    .. "/examples/models/wikitext_bigram.lua"))
  return chunk(tree.key == "wikitext-103" and "wikitext103" or "wikitext2", root,
    tree.opts.raw and "raw" or nil)
end

local function uniform_model(v)
  return function(input) return sb.zeros(input:numel(), v, { dtype = "float64" }) end
end

describe("sb.data.WikiText103 / WikiText2", function()
  for _, tree in ipairs(TREES) do
    local want = expected[tree.key]
    it(tree.key .. ": the vocabulary and ids of word_language_model's Corpus", function()
      local test = open(tree, "test")
      assert.are.equal(#want.vocab, #test.vocab)
      for i, word in ipairs(want.vocab) do
        assert.are.equal(word, test.vocab:word(i - 1))
        assert.are.equal(i - 1, test.vocab:id(word))
      end
      assert.are.same(want.test_ids, test.ids:totable())
      assert.are.equal("int64", test.ids:dtype())
      assert.are.equal(#want.test_ids, #test)
      assert.are.equal(want.train_tokens, #open(tree, "train", { vocab = test.vocab }))
    end)

    it(tree.key .. ": perplexity through batches equals the example's evaluate()", function()
      local test = open(tree, "test")
      local models = { uniform = uniform_model(#test.vocab), bigram = bigram_model(tree) }
      for _, case in ipairs(want.perplexity) do
        local m = sb.metrics.create("perplexity")
        local tokens = 0
        local bsz, bptt = math.tointeger(case.batch_size), math.tointeger(case.bptt)
        for input, target in test:batches { batch_size = bsz, bptt = bptt } do
          assert.are.equal(case.batch_size, input:size(2))
          m:add(models[case.model](input), target)
          tokens = tokens + target:numel()
        end
        assert.are.equal(case.tokens, tokens)
        local got = m:value()
        assert(math.abs(got - case.perplexity) <= 1e-12 * case.perplexity,
          ("%s %s bsz %d bptt %d: %.17g, expected %.17g"):format(tree.key, case.model,
            case.batch_size, case.bptt, got, case.perplexity))
      end
    end)
  end

  it("batches as batchify + get_batch: the targets are the next tokens", function()
    local test = sb.data.WikiText2 { root = root }
    local ids = test.ids:totable()
    local b = test:batches { batch_size = 3, bptt = 4 }
    local rows = #ids // 3
    assert.are.equal((rows - 1 + 3) // 4, #b)
    for k, input, target in b:iter() do
      local seq = input:size(1)
      assert.are.equal(seq * 3, target:size(1))
      local inp, tgt = input:totable(), target:totable()
      for t = 1, seq do
        for col = 1, 3 do
          local row = (k - 1) * 4 + t -- 1-based row of the batchified data
          assert.are.equal(ids[(col - 1) * rows + row], inp[t][col])
          assert.are.equal(ids[(col - 1) * rows + row + 1], tgt[(t - 1) * 3 + col])
        end
      end
    end
  end)

  it("takes a vocabulary file or list, mapping unknown words to <unk>", function()
    local dir = tmp.tmpdir()
    tmp.write(dir .. "/vocab.txt", "<eos> 10\nthe 5\n<unk> 1\n,\n")
    local s = sb.data.WikiText2 { root = root, vocab = dir .. "/vocab.txt" }
    assert.are.equal(4, #s.vocab)
    assert.are.equal(2, s.vocab:id("<unk>"))
    local words = {}
    for _, id in ipairs(expected["wikitext-2"].test_ids) do
      words[#words + 1] = expected["wikitext-2"].vocab[id + 1]
    end
    for i, id in ipairs(s.ids:totable()) do
      local w = words[i]
      assert.are.equal(s.vocab:id(w) or 2, id)
    end
    local l = sb.data.WikiText2 { root = root, vocab = { "<eos>", "<unk>", "the" } }
    assert.are.equal(1, l.vocab:id("<unk>"))
  end)

  it("names what is wrong", function()
    local dir = tmp.tmpdir()
    local ok, err = pcall(sb.data.WikiText103, { root = dir })
    assert.is_false(ok)
    assert.matches("wiki.test.tokens is not in " .. dir, err, 1, true)
    ok, err = pcall(sb.data.WikiText2, { root = root, split = "dev" })
    assert.matches("option split must be", err, 1, true)
    tmp.write(dir .. "/v.txt", "<eos>\nthe\n")
    ok, err = pcall(sb.data.WikiText2, { root = root, vocab = dir .. "/v.txt" })
    assert.is_false(ok)
    assert.matches("is not in the vocabulary", err, 1, true)
    tmp.write(dir .. "/dup.txt", "<eos>\nthe\nthe\n")
    ok, err = pcall(sb.data.WikiText2, { root = root, vocab = dir .. "/dup.txt" })
    assert.matches("line 3: \"the\" is already in the vocabulary (line 2)", err, 1, true)
    tmp.write(dir .. "/blank.txt", "<eos>\n\nthe\n")
    ok, err = pcall(sb.data.WikiText2, { root = root, vocab = dir .. "/blank.txt" })
    assert.matches("line 2 is blank", err, 1, true)
    ok, err = pcall(sb.data.WikiText2, { root = root, vocab = { "a", "a" } })
    assert.matches("vocab[2]: \"a\" is already in it", err, 1, true)
    local s = sb.data.WikiText2 { root = root }
    assert.has_error(function() s:batches { bptt = 0 } end,
      "WikiText-2:batches: option bptt must be a whole number >= 1, got 0")
    ok, err = pcall(s.check_outputs, s, sb.zeros(6, 3), sb.zeros(6), "WikiText2.benchmark")
    assert.matches("expected (6, " .. #s.vocab .. ")", err, 1, true)
  end)

  -- The words of a WikiText-2 tree whose test file is `text` (train and valid empty).
  local function words_of(text)
    local dir = tmp.tmpdir()
    os.execute("mkdir -p " .. dir .. "/wikitext-2")
    for _, split in ipairs { "train", "valid" } do
      tmp.write(dir .. "/wikitext-2/wiki." .. split .. ".tokens", "")
    end
    tmp.write(dir .. "/wikitext-2/wiki.test.tokens", text)
    local s = sb.data.WikiText2 { root = dir }
    local words = {}
    for i, id in ipairs(s.ids:totable()) do words[i] = s.vocab:word(id) end
    return words
  end

  it("reads whitespace and line ends that straddle its 1 MiB pieces", function()
    local piece = 1 << 20
    for k = 0, 6 do
      local long = ("x"):rep(piece - 3 - k)
      local words = words_of(long .. "\u{a0}y\r\nz\u{3000}w\u{2028}v\r\n\r")
      assert.are.equal(long, words[1])
      table.remove(words, 1)
      assert.are.same({ "y", "<eos>", "z", "w", "v", "<eos>", "<eos>" }, words, "k = " .. k)
    end
  end)

  it("reads whitespace and line ends as Python's text mode and str.split() do", function()
    -- "\r\n", a lone "\r", U+00A0, U+3000, U+001F, U+0085, U+2028 split; U+200B does not
    local words = words_of("a b\r\nc\rd\u{a0}e\u{3000}f\u{1f}g\u{85}h\u{2028}i x\u{200b}y\n\n  \nlast")
    assert.are.same({ "a", "b", "<eos>", "c", "<eos>", "d", "e", "f", "g", "h", "i",
      "x\u{200b}y", "<eos>", "<eos>", "<eos>", "last", "<eos>" }, words)
  end)
end)
