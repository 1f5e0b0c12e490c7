// Command-line parsing for the subcommands: flags with values (-n 20, --backend mpi), switches
// (--validate), byte sizes with K/M/G suffixes (nccl-tests style: powers of 1024), repeated --set
// overrides. Kept rather than CLI11 (issue 15 asked for a reason): what broke --help was fixed
// here, and the contract that matters under mpirun — every command answers --help with exit 0,
// an unknown option with its usage printed once and exit 2, never an MPI abort — is held by a
// test over every command (tests/cli_help_check.sh); CLI11 would add a dependency for the same.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "runtime/core/error.h"

namespace sy {

// A command line that does not fit the command's usage: main prints it once (rank 0) with the
// usage and exits 2, without an MPI abort (every rank parses the same arguments).
class UsageError : public Error {
 public:
  using Error::Error;
};

// --help or -h: main prints `usage` once and exits 0.
class HelpRequested : public std::exception {
 public:
  explicit HelpRequested(std::string usage) : usage_(std::move(usage)) {}
  const char* what() const noexcept override { return usage_.c_str(); }

 private:
  std::string usage_;
};

class Args {
 public:
  // `flags` lists the options that take a value, `switches` those that take none (has() tells);
  // `usage` is the command's help text. --help or -h anywhere throws HelpRequested; an unknown
  // option or one without its value throws UsageError.
  Args(const std::vector<std::string>& argv, const std::vector<std::string>& flags,
       std::string usage, const std::vector<std::string>& switches = {});

  bool has(const std::string& flag) const { return values_.count(flag) > 0; }
  std::string get(const std::string& flag, const std::string& fallback) const;
  int64_t get_int(const std::string& flag, int64_t fallback) const;
  double get_double(const std::string& flag, double fallback) const;
  // A byte count: "4096", "64K", "16M", "1G".
  uint64_t get_bytes(const std::string& flag, uint64_t fallback) const;
  // Every value of a flag that may repeat (--set a=b --set c=d).
  std::vector<std::string> get_all(const std::string& flag) const;
  const std::vector<std::string>& positional() const { return positional_; }
  const std::string& usage() const { return usage_; }

 private:
  std::string usage_;
  std::multimap<std::string, std::string> values_;
  std::vector<std::string> positional_;
};

// SY_USAGE_CHECK(args.positional().size() == 1, args): a UsageError carrying the usage.
#define SY_USAGE_CHECK(cond, args)                                                     \
  do {                                                                                 \
    if (!(cond)) SY_THROW_AS(::sy::UsageError, "wrong arguments\n" << (args).usage()); \
  } while (0)

uint64_t parse_bytes(const std::string& text);
std::string format_bytes(uint64_t bytes);

}  // namespace sy
