// Token data at scale: shards memory-mapped (the page cache holds them once per node, whatever the
// rank count; nothing is read before a batch needs it), several shards read as one stream, and
// the shard formats people have:
//   LLMC        — llm.c: a header of 256 int32 (magic, version, token count), then the tokens:
//                 magic 20240520 / version 1 → uint16 (GPT-2), magic 20240801 / version 7 →
//                 uint32 (LLaMA-3);
//   NANOGPT_U16 — raw little-endian uint16 tokens (nanoGPT's train.bin / val.bin).
// A path spec is a comma-separated list of files and globs; a glob's matches are taken in name
// order, the entries in the order given — the same order on every rank.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "switchyard/config.pb.h"

namespace sy {

class TokenStream {
 public:
  // Maps every shard the spec names; throws naming the file and the fix when one is missing, of
  // another format (magic), truncated, or when the spec matches nothing.
  TokenStream(const std::string& spec, pb::DataFormat format);
  // Tokens already in memory (tests, small corpora).
  explicit TokenStream(std::vector<uint16_t> tokens);
  TokenStream(const TokenStream&) = delete;
  TokenStream& operator=(const TokenStream&) = delete;

  int64_t size() const { return size_; }
  // Tokens [begin, begin + n) of the stream (across shard boundaries) into out.
  void copy(int64_t begin, int64_t n, int32_t* out) const;
  // Throws, naming the shard and the first offending token's index and byte offset, when a token
  // is not below vocab_size. Checks the shards i with i mod parts = part, so that `parts` ranks
  // share one pass over the data.
  void check_range(int vocab_size, int part = 0, int parts = 1) const;

 private:
  struct Shard {
    std::string path;
    std::shared_ptr<const unsigned char> map;        // the mapping, unmapped with its last user
    const unsigned char* tokens = nullptr;           // first token
    int64_t header_bytes = 0, count = 0, first = 0;  // first: its index in the stream
    int width = 2;                                   // bytes per token
    uint32_t at(int64_t i) const;
  };
  void map_shard(const std::string& path, pb::DataFormat format);

  std::vector<Shard> shards_;
  std::vector<uint16_t> owned_;
  int64_t size_ = 0;
};

// The files a path spec names, in order (no file is checked).
std::vector<std::string> expand_path_spec(const std::string& spec);

}  // namespace sy
