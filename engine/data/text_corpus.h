/* Word-level token streams (WikiText-103/-2) as PyTorch's word_language_model example reads
 * them (its data.py Corpus): a file is read as Python's text mode does (UTF-8, lines end at
 * "\n", "\r\n" or "\r"), each line is split on whitespace as str.split() splits (Unicode
 * whitespace included) and "<eos>" follows each line. The vocabulary gives ids in the order
 * words first appear.
 *
 * Files are read in 1 MiB pieces: wiki.train.tokens (~540 MB) builds a vocabulary in memory
 * proportional to the vocabulary, and its ids need only the int64 tensor itself. */
#ifndef SB_DATA_TEXT_CORPUS_H
#define SB_DATA_TEXT_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "core/error.h"
#include "tensor/tensor.h"

typedef struct sb_vocab sb_vocab;

sb_status sb_vocab_new(sb_vocab **out);
void sb_vocab_free(sb_vocab *v); /* NULL is a no-op */

size_t sb_vocab_size(const sb_vocab *v);
/* The word of id `id` (0-based, < size), NUL-terminated; *len its length (optional). */
const char *sb_vocab_word(const sb_vocab *v, size_t id, size_t *len);
/* The id of `word`, or -1. */
int64_t sb_vocab_find(const sb_vocab *v, const char *word, size_t len);
/* Adds `word` if it is new; *id (optional) is its id. Fails on an empty word or one that
 * holds whitespace (it could never be a token). */
sb_status sb_vocab_add(sb_vocab *v, const char *word, size_t len, int64_t *id);

/* Adds every token of a text file, "<eos>" after each line, in the order they first appear
 * (Corpus.tokenize's first pass). */
sb_status sb_vocab_add_text_file(sb_vocab *v, const char *path);
/* Adds a vocabulary file: one token per line (its first whitespace-separated field, so a
 * "word count" dictionary works too), ids in line order. A blank line or a token given twice
 * is an error naming the line. */
sb_status sb_vocab_add_list_file(sb_vocab *v, const char *path);

/* The ids of a text file's tokens ("<eos>" after each line) as a 1-D int64 tensor. A token
 * not in `v` becomes `unk` when unk >= 0, else it is an error naming it, the file and the
 * line. */
sb_status sb_vocab_encode_file(const sb_vocab *v, const char *path, int64_t unk, sb_tensor **out);

#endif
