#include "runtime/train/run_folder.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <system_error>

#include "runtime/core/error.h"

namespace sy {

namespace {

namespace fs = std::filesystem;

std::string holder_text() {
  char host[256] = "?";
  ::gethostname(host, sizeof host - 1);
  const std::time_t now = std::time(nullptr);
  char when[64];
  std::strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S UTC", std::gmtime(&now));
  return "pid " + std::to_string(::getpid()) + " on " + host + " since " + when;
}

std::string read_fd(int fd) {
  char buf[512] = {};
  const ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "an unknown process";
}

void check_free_space(const std::string& dir, uint64_t need) {
  struct statvfs st {};
  if (::statvfs(dir.c_str(), &st) != 0) return;  // not knowable here: the save will tell
  const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
  SY_CHECK(free_bytes >= need, "the run folder " << dir << " has " << (free_bytes >> 20)
                                                 << " MiB free, and one checkpoint needs about "
                                                 << (need >> 20)
                                                 << " MiB: free space or set logging.dir to a "
                                                    "file system with room");
}

// Temporary folders of saves a killed job never finished (nobody else writes here: we hold the
// lock).
void remove_stale_saves(const std::string& dir) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir + "/checkpoints", ec)) {
    const std::string name = e.path().filename().string();
    if (name.size() > 4 && name.compare(name.size() - 4, 4, ".tmp") == 0) fs::remove_all(e, ec);
  }
}

}  // namespace

RunFolder::RunFolder(const std::string& dir, uint64_t checkpoint_bytes) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  SY_CHECK(!ec, "cannot create the run folder " << dir << ": " << ec.message()
                                                << " — set logging.dir to a writable place");
  check_free_space(dir, checkpoint_bytes);
  const std::string lock = dir + "/.lock";
  fd_ = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  SY_CHECK(fd_ >= 0, "cannot write in the run folder "
                         << dir << " (" << std::strerror(errno)
                         << ") — set logging.dir to a writable place");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const std::string holder = read_fd(fd_);
    ::close(fd_);
    fd_ = -1;
    SY_THROW("the run folder " << dir << " is in use by another job (" << holder
                               << "): give this run another name (--set name=...) or "
                                  "logging.dir, or wait for that job to end");
  }
  const std::string me = holder_text();
  if (::ftruncate(fd_, 0) != 0 ||
      ::pwrite(fd_, me.data(), me.size(), 0) != static_cast<ssize_t>(me.size())) {
    const int err = errno;
    ::close(fd_);
    fd_ = -1;
    SY_THROW("cannot write in the run folder " << dir << " (" << std::strerror(err)
                                               << "): is the disk full or read-only?");
  }
  remove_stale_saves(dir);
}

RunFolder::~RunFolder() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace sy
