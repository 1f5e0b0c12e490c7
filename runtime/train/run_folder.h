// The run folder <logging.dir>/<name> for the life of one job (issue 14). Two jobs writing one
// folder would interleave their checkpoints and logs, so the job holds an exclusive advisory lock
// (flock on <folder>/.lock, released by the kernel when the process ends, kill -9 included) and a
// second job refuses at start, naming the holder. Taking the folder also checks, before any step
// runs, that it can be written and has room for a checkpoint, and clears the temporary checkpoint
// folders a killed job left behind.
#pragma once

#include <cstdint>
#include <string>

namespace sy {

class RunFolder {
 public:
  // Creates and locks `dir`; throws sy::Error naming the folder and what to do when it cannot be
  // created or written, is locked by another job, or has less than `checkpoint_bytes` free.
  RunFolder(const std::string& dir, uint64_t checkpoint_bytes);
  ~RunFolder();  // releases the lock
  RunFolder(const RunFolder&) = delete;
  RunFolder& operator=(const RunFolder&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace sy
