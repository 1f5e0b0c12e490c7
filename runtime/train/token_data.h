// Token data (DESIGN.md contract 9): shards in the formats people already have, a byte-level
// tokenizer that prepares text into shards, and a sampler that gives every data-parallel rank its
// own disjoint slice of each global batch, deterministically from the seed.
//
// Formats and reading at scale: runtime/train/token_stream.h (memory-mapped shards, lists and
// globs, llm.c GPT-2 and LLaMA-3 shards, nanoGPT's raw uint16).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "runtime/train/token_stream.h"
#include "switchyard/config.pb.h"

namespace sy {

constexpr int32_t kLlmcMagic = 20240520;
constexpr int32_t kLlmcVersion = 1;
constexpr int32_t kLlmcLlama3Magic = 20240801;  // llm.c's LLaMA-3 shards: uint32 tokens
constexpr int32_t kLlmcLlama3Version = 7;
// The byte-level tokenizer: token = byte value (0…255); token 0 separates documents (text files
// never contain NUL bytes, so it cannot collide).
constexpr int kByteVocab = 256;
constexpr uint16_t kEndOfDocument = 0;

// Writes tokens to path in `format`, through a temporary file that is fsynced and renamed, so a
// crash never leaves a half-written shard under the final name.
void write_shard(const std::string& path, const std::vector<uint16_t>& tokens,
                 pb::DataFormat format);
// Reads a uint16 shard into memory (small data and tests; training maps shards through
// TokenStream). Throws with the path and what is wrong (bad magic, truncated, an llm.c header in a
// file read as raw tokens, …).
std::vector<uint16_t> read_shard(const std::string& path, pb::DataFormat format);

struct PrepareStats {
  int64_t documents = 0, train_tokens = 0, val_tokens = 0;
  std::string train_path, val_path;  // the path specs to train on (a file, or a glob of shards)
};
// At most this many tokens per shard (llm.c's header counts in int32).
constexpr int64_t kMaxShardTokens = int64_t{1} << 30;
// Byte-level tokenisation of text files: each file's bytes followed by kEndOfDocument; the first
// (1 − val_fraction) of the stream goes to the train split in out_dir, the rest to val.
// A split of more than shard_tokens tokens goes into numbered shards <split>_000000.bin, … (read
// them back with the glob <split>_*.bin); a smaller one into <split>.bin. Streams: the text is
// read twice (to count, then to write) in 1 MiB chunks, so memory does not grow with the corpus.
// Prints a progress line every 10% of the tokens when `progress`.
PrepareStats prepare_text(const std::vector<std::string>& files, const std::string& out_dir,
                          double val_fraction, pb::DataFormat format,
                          int64_t shard_tokens = kMaxShardTokens, bool progress = false);

// Sequences of T + 1 tokens (inputs and next-token targets) cut from a token stream. Window w of
// the stream starts at token w·T; the windows of an epoch are visited in a seeded permutation, and
// global batch s takes the next B of them. Rank r of W (a data-parallel rank) reads sequences
// [r·B/W, (r+1)·B/W) of every batch, so ranks never share a sequence and the global batch is the
// same for every W.
class BatchSampler {
 public:
  BatchSampler(std::shared_ptr<const TokenStream> tokens, int seq_len, int global_batch,
               uint64_t seed);
  BatchSampler(std::vector<uint16_t> tokens, int seq_len, int global_batch, uint64_t seed);
  // Fills inputs and targets (local_batch · T each, row-major) for global step `step`.
  void batch(std::vector<int32_t>& inputs, std::vector<int32_t>& targets, int64_t step, int rank,
             int world) const;
  int64_t windows() const { return windows_; }
  int64_t tokens() const { return tokens_->size(); }

 private:
  int64_t window_at(int64_t index) const;  // the index-th window visited

  std::shared_ptr<const TokenStream> tokens_;
  int seq_len_, global_batch_;
  uint64_t seed_;
  int64_t windows_ = 0;
};

}  // namespace sy
