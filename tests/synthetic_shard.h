// A small synthetic token shard for trainer tests that need data but not a corpus: 20 000 tokens
// below 61 (a model with vocab_size ≥ 61 reads it), written once per job by rank 0 into the test
// temp folder and shared by every rank.
#pragma once

#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "runtime/train/token_data.h"
#include "tests/test_world.h"

namespace sy {
namespace testing {

// Returns the shard's folder (holding train.bin); `tag` keeps the binaries' folders apart.
inline std::string synthetic_shard_dir(const std::string& tag) {
  static std::string dir;
  if (!dir.empty()) return dir;
  auto w = world();
  dir = ::testing::TempDir() + "/sy_" + tag + "_data_" + std::to_string(::getppid());
  if (w->rank() == 0) {
    std::filesystem::create_directories(dir);
    std::vector<uint16_t> tokens(20000);
    for (size_t i = 0; i < tokens.size(); ++i)
      tokens[i] = static_cast<uint16_t>((i * 7 + i / 13) % 61);
    write_shard(dir + "/train.bin", tokens, pb::LLMC);
  }
  w->barrier();
  return dir;
}

}  // namespace testing
}  // namespace sy
