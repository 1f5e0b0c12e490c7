// Logging: SY_LOG0 prints on rank 0 only (the per-step line, configuration summaries);
// SY_LOGR prints on every rank with a "[rank r]" prefix (diagnostics). Info goes to stdout,
// warnings and errors to stderr, as whole lines, so lines from several ranks do not interleave
// mid-line.
#pragma once

#include <string>

#include "runtime/core/error.h"

namespace sy {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };

void set_log_level(LogLevel level);
LogLevel log_level();
// Writes one line. rank0_only: print only where process_rank() is 0 (or MPI is not up yet).
void log_line(LogLevel level, bool rank0_only, const std::string& text);

}  // namespace sy

#define SY_LOG_IMPL(level, rank0, msg)                                             \
  do {                                                                             \
    if (static_cast<int>(level) >= static_cast<int>(::sy::log_level()))            \
      ::sy::log_line(level, rank0, (::sy::detail::MessageBuilder() << msg).str()); \
  } while (0)

#define SY_LOG0(msg) SY_LOG_IMPL(::sy::LogLevel::kInfo, true, msg)
#define SY_LOGR(msg) SY_LOG_IMPL(::sy::LogLevel::kInfo, false, msg)
#define SY_WARN0(msg) SY_LOG_IMPL(::sy::LogLevel::kWarn, true, msg)
#define SY_WARNR(msg) SY_LOG_IMPL(::sy::LogLevel::kWarn, false, msg)
#define SY_DEBUGR(msg) SY_LOG_IMPL(::sy::LogLevel::kDebug, false, msg)
