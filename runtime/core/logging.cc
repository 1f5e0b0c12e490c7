#include "runtime/core/logging.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>

namespace sy {

namespace {
LogLevel initial_level() {
  const char* env = std::getenv("SY_LOG_LEVEL");
  if (!env) return LogLevel::kInfo;
  if (!std::strcmp(env, "debug")) return LogLevel::kDebug;
  if (!std::strcmp(env, "warn")) return LogLevel::kWarn;
  if (!std::strcmp(env, "error")) return LogLevel::kError;
  return LogLevel::kInfo;
}
LogLevel g_level = initial_level();
std::mutex g_mutex;
}  // namespace

void set_log_level(LogLevel level) {
  g_level = level;
}
LogLevel log_level() {
  return g_level;
}

void log_line(LogLevel level, bool rank0_only, const std::string& text) {
  int rank = process_rank();
  if (rank0_only && rank > 0) return;
  std::string line;
  if (!rank0_only) line = "[rank " + std::to_string(rank) + "] ";
  if (level == LogLevel::kWarn) line += "warning: ";
  if (level == LogLevel::kError) line += "error: ";
  line += text;
  line += '\n';
  std::lock_guard<std::mutex> lock(g_mutex);
  FILE* out = level >= LogLevel::kWarn ? stderr : stdout;
  std::fwrite(line.data(), 1, line.size(), out);
  std::fflush(out);
}

}  // namespace sy
