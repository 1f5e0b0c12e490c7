#include "runtime/core/error.h"

#include <mpi.h>

#include <atomic>

namespace sy {

namespace {
std::atomic<int> g_rank{-1};

const char* short_path(const char* file) {
  // Keep the path from the project's top folder on ("runtime/core/x.cc"), not the build machine's.
  std::string f(file);
  for (const char* top : {"runtime/", "comm/", "experts/", "models/", "launch/", "tests/"}) {
    auto pos = f.rfind(top);
    if (pos != std::string::npos) return file + pos;
  }
  return file;
}
}  // namespace

int process_rank() {
  return g_rank.load();
}
void set_process_rank(int rank) {
  g_rank.store(rank);
}

static std::string format_error(const char* file, int line, int rank, const std::string& msg) {
  std::ostringstream os;
  os << short_path(file) << ":" << line << " [rank " << rank << "] " << msg;
  return os.str();
}

Error::Error(const char* file, int line, const std::string& message)
    : std::runtime_error(format_error(file, line, process_rank(), message)),
      file_(short_path(file)),
      line_(line),
      rank_(process_rank()),
      message_(message) {}

std::string mpi_error_string(int code) {
  char buf[MPI_MAX_ERROR_STRING];
  int len = 0;
  if (MPI_Error_string(code, buf, &len) != MPI_SUCCESS) return "MPI error " + std::to_string(code);
  return std::string(buf, len);
}

}  // namespace sy
