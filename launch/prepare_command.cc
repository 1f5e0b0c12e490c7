// `switchyard prepare --out DIR [--val FRACTION] [--format llmc|nanogpt] PATH...`: byte-level
// tokenisation of text files (a folder stands for the regular files in it, in name order) into
// DIR/train.bin and DIR/val.bin.
#include <sys/stat.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/error.h"
#include "runtime/train/token_data.h"

namespace sy {

int prepare_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--out", "--val", "--format", "--shard-tokens"},
            "usage: switchyard prepare --out DIR [--val 0.1] [--format llmc|nanogpt] "
            "[--shard-tokens 2^30] PATH...\n"
            "  byte-level tokenisation of text files (a folder: its regular files, in name\n"
            "  order) into DIR/train.bin and DIR/val.bin (the last --val share); a split larger\n"
            "  than --shard-tokens goes into DIR/train_000000.bin, … (train on DIR/train_*.bin)\n");
  SY_USAGE_CHECK(args.has("--out") && !args.positional().empty(), args);
  std::vector<std::string> files;
  for (const auto& p : args.positional()) {
    std::filesystem::path path(p);
    if (std::filesystem::is_directory(path)) {
      std::vector<std::string> inside;
      for (const auto& e : std::filesystem::directory_iterator(path))
        if (e.is_regular_file()) inside.push_back(e.path().string());
      std::sort(inside.begin(), inside.end());
      files.insert(files.end(), inside.begin(), inside.end());
    } else {
      files.push_back(p);
    }
  }
  std::string fmt = args.get("--format", "llmc");
  SY_CHECK(fmt == "llmc" || fmt == "nanogpt", "--format must be llmc or nanogpt, got " << fmt);
  std::string out = args.get("--out", "");
  std::filesystem::create_directories(out);
  PrepareStats st = prepare_text(
      files, out, args.get_double("--val", 0.1), fmt == "llmc" ? pb::LLMC : pb::NANOGPT_U16,
      args.get_int("--shard-tokens", kMaxShardTokens), process_rank() <= 0);
  if (process_rank() <= 0)
    std::printf(
        "prepared %lld documents: %lld train and %lld val tokens (byte-level, vocab 256, %s)\n"
        "  data.train_path: \"%s\"\n  data.val_path: \"%s\"\n",
        static_cast<long long>(st.documents), static_cast<long long>(st.train_tokens),
        static_cast<long long>(st.val_tokens), fmt.c_str(), st.train_path.c_str(),
        st.val_path.c_str());
  return 0;
}

}  // namespace sy
