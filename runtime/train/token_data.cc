#include "runtime/train/token_data.h"

#include <algorithm>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <numeric>
#include <sstream>

#include "runtime/core/error.h"
#include "runtime/core/random.h"

namespace sy {

namespace {

void write_all(int fd, const void* data, size_t bytes, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (bytes > 0) {
    ssize_t n = ::write(fd, p, bytes);
    SY_CHECK(n > 0,
             "writing " << path << " failed: " << std::strerror(errno) << " (is the disk full?)");
    p += n;
    bytes -= static_cast<size_t>(n);
  }
}

int64_t gcd64(int64_t a, int64_t b) {
  return b == 0 ? a : gcd64(b, a % b);
}

// A shard of `count` tokens is written under `tmp`: created here with its header (llm.c's format),
// the tokens appended by the caller, then committed — fsync'd, closed and renamed to its path.
int open_shard(const std::string& tmp, pb::DataFormat format, int64_t count) {
  SY_CHECK(format == pb::LLMC || format == pb::NANOGPT_U16,
           "unknown data format " << pb::DataFormat_Name(format));
  SY_CHECK(count <= 0x7fffffff, "a shard holds at most 2^31 tokens");
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  SY_CHECK(fd >= 0, "cannot create " << tmp << ": " << std::strerror(errno));
  if (format == pb::LLMC) {
    int32_t header[256] = {};
    header[0] = kLlmcMagic;
    header[1] = kLlmcVersion;
    header[2] = static_cast<int32_t>(count);
    write_all(fd, header, sizeof header, tmp);
  }
  return fd;
}

void commit_shard(int fd, const std::string& tmp, const std::string& path) {
  SY_CHECK(::fsync(fd) == 0, "fsync of " << tmp << " failed: " << std::strerror(errno));
  ::close(fd);
  SY_CHECK(std::rename(tmp.c_str(), path.c_str()) == 0,
           "cannot rename " << tmp << " to " << path << ": " << std::strerror(errno));
}

}  // namespace

void write_shard(const std::string& path, const std::vector<uint16_t>& tokens,
                 pb::DataFormat format) {
  const std::string tmp = path + ".tmp";
  const int fd = open_shard(tmp, format, static_cast<int64_t>(tokens.size()));
  write_all(fd, tokens.data(), tokens.size() * sizeof(uint16_t), tmp);
  commit_shard(fd, tmp, path);
}

std::vector<uint16_t> read_shard(const std::string& path, pb::DataFormat format) {
  TokenStream stream(path, format);
  std::vector<int32_t> wide(static_cast<size_t>(stream.size()));
  stream.copy(0, stream.size(), wide.data());
  std::vector<uint16_t> tokens(wide.size());
  for (size_t i = 0; i < wide.size(); ++i) {
    SY_CHECK(wide[i] >= 0 && wide[i] < 65536,
             path << ": token " << wide[i] << " does not fit uint16 (read it as a TokenStream)");
    tokens[i] = static_cast<uint16_t>(wide[i]);
  }
  return tokens;
}

namespace {

// Writes one split's tokens as they come, in shards of at most `per_shard` tokens: <split>.bin when
// the split fits one shard, else <split>_000000.bin, …; each shard under a .tmp name with its
// count in the header (known ahead: the split's size is), committed when full — write_shard's
// open_shard/commit_shard, without holding the split in memory.
class SplitWriter {
 public:
  SplitWriter(const std::string& dir, const std::string& split, int64_t total, int64_t per_shard,
              pb::DataFormat format)
      : dir_(dir), split_(split), total_(total), per_shard_(per_shard), format_(format) {}
  ~SplitWriter() {
    if (fd_ >= 0) ::close(fd_);
  }

  void push(const uint16_t* tokens, int64_t n) {
    while (n > 0) {
      if (fd_ < 0) open_next();
      const int64_t take = std::min(n, shard_size_ - in_shard_);
      write_all(fd_, tokens, static_cast<size_t>(take) * sizeof(uint16_t), tmp_);
      tokens += take, n -= take, in_shard_ += take, written_ += take;
      if (in_shard_ == shard_size_) close_current();
    }
  }

  // The path spec to read the split back (a file, or a glob of shards).
  std::string finish() {
    SY_CHECK(written_ == total_ && fd_ < 0,
             "the " << split_ << " split got " << written_ << " tokens, " << total_
                    << " expected: did a text file change while it was being prepared?");
    return sharded() ? dir_ + "/" + split_ + "_*.bin" : dir_ + "/" + split_ + ".bin";
  }

 private:
  bool sharded() const { return total_ > per_shard_; }

  void open_next() {
    SY_CHECK(written_ < total_, "the " << split_ << " split got more tokens than counted: did a "
                                       << "text file change while it was being prepared?");
    char name[32];
    std::snprintf(name, sizeof name, "_%06lld.bin", static_cast<long long>(shards_));
    path_ = dir_ + "/" + split_ + (sharded() ? name : ".bin");
    tmp_ = path_ + ".tmp";
    shard_size_ = std::min(per_shard_, total_ - written_);
    in_shard_ = 0;
    fd_ = open_shard(tmp_, format_, shard_size_);
  }

  void close_current() {
    const int fd = fd_;
    fd_ = -1;
    commit_shard(fd, tmp_, path_);
    ++shards_;
  }

  std::string dir_, split_, path_, tmp_;
  int64_t total_, per_shard_, shard_size_ = 0, in_shard_ = 0, written_ = 0, shards_ = 0;
  pb::DataFormat format_;
  int fd_ = -1;
};

constexpr size_t kReadChunk = size_t{1} << 20;

// f(tokens, n) for every chunk of a text file's tokens: its bytes but NUL (the document
// separator), then kEndOfDocument.
template <typename F>
void for_each_token_chunk(const std::string& file, F&& f) {
  std::ifstream in(file, std::ios::binary);
  SY_CHECK(in.good(), "cannot read text file '" << file << "'");
  std::vector<char> bytes(kReadChunk);
  std::vector<uint16_t> tokens;
  tokens.reserve(kReadChunk + 1);
  while (in) {
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    tokens.clear();
    for (std::streamsize i = 0; i < in.gcount(); ++i)
      if (bytes[i] != 0) tokens.push_back(static_cast<unsigned char>(bytes[i]));
    f(tokens.data(), static_cast<int64_t>(tokens.size()));
  }
  const uint16_t end = kEndOfDocument;
  f(&end, 1);
}

}  // namespace

PrepareStats prepare_text(const std::vector<std::string>& files, const std::string& out_dir,
                          double val_fraction, pb::DataFormat format, int64_t shard_tokens,
                          bool progress) {
  SY_CHECK(!files.empty(), "prepare needs at least one text file");
  SY_CHECK(val_fraction > 0 && val_fraction < 1, "the validation fraction must be in (0, 1)");
  SY_CHECK(shard_tokens >= 1 && shard_tokens <= kMaxShardTokens,
           "tokens per shard must be in [1, 2^30], got " << shard_tokens);
  // Pass 1 counts the tokens (the split point), pass 2 streams them into the shards.
  int64_t total = 0;
  for (const auto& f : files)
    for_each_token_chunk(f, [&](const uint16_t*, int64_t n) { total += n; });
  PrepareStats st;
  st.val_tokens = static_cast<int64_t>(static_cast<double>(total) * val_fraction);
  st.train_tokens = total - st.val_tokens;
  SY_CHECK(st.val_tokens > 0 && st.train_tokens > 0,
           "too little text (" << total << " bytes) to split");
  SplitWriter train(out_dir, "train", st.train_tokens, shard_tokens, format);
  SplitWriter val(out_dir, "val", st.val_tokens, shard_tokens, format);
  int64_t done = 0, next_report = total / 10;
  for (const auto& f : files) {
    for_each_token_chunk(f, [&](const uint16_t* t, int64_t n) {
      const int64_t to_train = std::max<int64_t>(0, std::min(n, st.train_tokens - done));
      train.push(t, to_train);
      val.push(t + to_train, n - to_train);
      done += n;
    });
    ++st.documents;
    if (progress && done >= next_report) {
      std::printf("# prepare: %lld of %zu files, %.1f of %.1f M tokens\n",
                  static_cast<long long>(st.documents), files.size(), done / 1e6, total / 1e6);
      next_report += total / 10;
    }
  }
  st.train_path = train.finish();
  st.val_path = val.finish();
  return st;
}

BatchSampler::BatchSampler(std::vector<uint16_t> tokens, int seq_len, int global_batch,
                           uint64_t seed)
    : BatchSampler(std::make_shared<const TokenStream>(std::move(tokens)), seq_len, global_batch,
                   seed) {}

BatchSampler::BatchSampler(std::shared_ptr<const TokenStream> tokens, int seq_len, int global_batch,
                           uint64_t seed)
    : tokens_(std::move(tokens)), seq_len_(seq_len), global_batch_(global_batch), seed_(seed) {
  SY_CHECK(seq_len >= 1 && global_batch >= 1, "sequence length and batch must be ≥ 1");
  windows_ = (tokens_->size() - 1) / seq_len_;
  SY_CHECK(windows_ >= 1, "the data has " << tokens_->size()
                                          << " tokens, fewer than one sequence of " << seq_len_ + 1
                                          << ": use more text or a shorter "
                                             "model.seq_len");
}

int64_t BatchSampler::window_at(int64_t index) const {
  // Epoch e visits its windows in the order (a·i + b) mod N with gcd(a, N) = 1: a permutation,
  // different each epoch, a pure function of (seed, index).
  int64_t n = windows_, epoch = index / n, i = index % n;
  uint64_t r = random_bits(seed_, 0x5eed, static_cast<uint64_t>(epoch));
  int64_t a = static_cast<int64_t>(r % static_cast<uint64_t>(n)) | 1;
  while (gcd64(a, n) != 1) a = (a + 1) % n == 0 ? 1 : a + 1;
  int64_t b = static_cast<int64_t>((r >> 32) % static_cast<uint64_t>(n));
  return static_cast<int64_t>((static_cast<__int128>(a) * i + b) % n);
}

void BatchSampler::batch(std::vector<int32_t>& inputs, std::vector<int32_t>& targets, int64_t step,
                         int rank, int world) const {
  SY_CHECK(world >= 1 && global_batch_ % world == 0,
           "data.global_batch = " << global_batch_ << " must be a multiple of the " << world
                                  << " data-parallel ranks");
  int local = global_batch_ / world;
  inputs.resize(static_cast<size_t>(local) * seq_len_);
  targets.resize(inputs.size());
  std::vector<int32_t> window(static_cast<size_t>(seq_len_) + 1);
  for (int b = 0; b < local; ++b) {
    int64_t seq = step * global_batch_ + static_cast<int64_t>(rank) * local + b;
    tokens_->copy(window_at(seq) * seq_len_, seq_len_ + 1, window.data());
    std::copy(window.begin(), window.end() - 1, inputs.begin() + b * seq_len_);
    std::copy(window.begin() + 1, window.end(), targets.begin() + b * seq_len_);
  }
}

}  // namespace sy
