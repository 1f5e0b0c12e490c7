#include "launch/args.h"

#include <algorithm>
#include <cctype>

#include "runtime/core/error.h"

namespace sy {

Args::Args(const std::vector<std::string>& argv, const std::vector<std::string>& flags,
           std::string usage, const std::vector<std::string>& switches)
    : usage_(std::move(usage)) {
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (a == "--help" || a == "-h") throw HelpRequested(usage_);
    if (a.size() > 1 && a[0] == '-' && !std::isdigit(static_cast<unsigned char>(a[1]))) {
      if (std::find(switches.begin(), switches.end(), a) != switches.end()) {
        values_.emplace(a, "");
        continue;
      }
      std::string name = a, value;
      auto eq = a.find('=');
      bool inline_value = a.rfind("--", 0) == 0 && eq != std::string::npos;
      if (inline_value) {
        name = a.substr(0, eq);
        value = a.substr(eq + 1);
      }
      if (std::find(flags.begin(), flags.end(), name) == flags.end())
        SY_THROW_AS(UsageError, "unknown option '" << name << "'\n" << usage_);
      if (!inline_value) {
        if (i + 1 >= argv.size())
          SY_THROW_AS(UsageError, "option '" << name << "' needs a value\n" << usage_);
        value = argv[++i];
      }
      values_.emplace(name, value);
    } else {
      positional_.push_back(a);
    }
  }
}

std::string Args::get(const std::string& flag, const std::string& fallback) const {
  auto it = values_.find(flag);
  return it == values_.end() ? fallback : it->second;
}

int64_t Args::get_int(const std::string& flag, int64_t fallback) const {
  if (!has(flag)) return fallback;
  std::string v = get(flag, "");
  try {
    size_t used = 0;
    int64_t x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  SY_THROW_AS(UsageError, "option " << flag << " expects an integer, got '" << v << "'\n"
                                    << usage_);
}

double Args::get_double(const std::string& flag, double fallback) const {
  if (!has(flag)) return fallback;
  std::string v = get(flag, "");
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size()) return x;
  } catch (const std::exception&) {
  }
  SY_THROW_AS(UsageError, "option " << flag << " expects a number, got '" << v << "'\n" << usage_);
}

uint64_t Args::get_bytes(const std::string& flag, uint64_t fallback) const {
  return has(flag) ? parse_bytes(get(flag, "")) : fallback;
}

std::vector<std::string> Args::get_all(const std::string& flag) const {
  std::vector<std::string> out;
  auto range = values_.equal_range(flag);
  for (auto it = range.first; it != range.second; ++it) out.push_back(it->second);
  return out;
}

uint64_t parse_bytes(const std::string& text) {
  SY_CHECK(!text.empty(), "empty byte size");
  uint64_t mult = 1;
  std::string digits = text;
  char last = static_cast<char>(std::toupper(static_cast<unsigned char>(text.back())));
  if (last == 'K' || last == 'M' || last == 'G') {
    mult = last == 'K' ? 1ull << 10 : last == 'M' ? 1ull << 20 : 1ull << 30;
    digits = text.substr(0, text.size() - 1);
  }
  SY_CHECK(!digits.empty() && std::all_of(digits.begin(), digits.end(), ::isdigit),
           "'" << text << "' is not a byte size (examples: 4096, 64K, 16M, 1G)");
  return std::stoull(digits) * mult;
}

std::string format_bytes(uint64_t b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  int u = 0;
  double v = static_cast<double>(b);
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, v == static_cast<uint64_t>(v) ? "%.0f %s" : "%.1f %s", v,
                units[u]);
  return buf;
}

}  // namespace sy
