// Command-line parsing for the subcommands: flags with values (-n 20, --backend mpi), byte sizes
// with K/M/G suffixes (nccl-tests style: powers of 1024), repeated --set overrides.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sy {

class Args {
 public:
  // `flags` lists the options that take a value; anything else starting with '-' is an error.
  Args(const std::vector<std::string>& argv, const std::vector<std::string>& flags);

  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string get(const std::string& flag, const std::string& fallback) const;
  int64_t get_int(const std::string& flag, int64_t fallback) const;
  double get_double(const std::string& flag, double fallback) const;
  // A byte count: "4096", "64K", "16M", "1G".
  uint64_t get_bytes(const std::string& flag, uint64_t fallback) const;
  // Every value of a flag that may repeat (--set a=b --set c=d).
  std::vector<std::string> get_all(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }

 private:
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

uint64_t parse_bytes(const std::string& text);
std::string format_bytes(uint64_t bytes);

}  // namespace sy
