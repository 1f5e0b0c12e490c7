// Errors: one exception type that carries where it was thrown (file:line), on which rank, and a
// message that tells the user what to do. Library code throws; only main() (and the test main)
// turn an Error into MPI_Abort, so no peer is ever left hanging by an exit() inside the library.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace sy {

// The rank of this process in MPI_COMM_WORLD, or -1 before MPI is up. Set once at start-up by
// whoever initialises MPI; read by errors and logging.
int process_rank();
void set_process_rank(int rank);

class Error : public std::runtime_error {
 public:
  Error(const char* file, int line, const std::string& message);
  const std::string& file() const { return file_; }
  int line() const { return line_; }
  int rank() const { return rank_; }
  // The message without the "file:line [rank r]" prefix.
  const std::string& message() const { return message_; }

 private:
  std::string file_;
  int line_;
  int rank_;
  std::string message_;
};

// A collective or wait that ran past its deadline. A separate type so callers (and tests) can tell
// a hung peer from a bad argument.
class TimeoutError : public Error {
 public:
  using Error::Error;
};

namespace detail {
// Builds a message from `<<`-streamed pieces: SY_CHECK(x > 0, "x must be positive, got " << x).
struct MessageBuilder {
  std::ostringstream os;
  template <typename T>
  MessageBuilder& operator<<(const T& v) {
    os << v;
    return *this;
  }
  std::string str() const { return os.str(); }
};
}  // namespace detail

}  // namespace sy

#define SY_THROW_AS(Type, msg) \
  throw Type(__FILE__, __LINE__, (::sy::detail::MessageBuilder() << msg).str())

#define SY_THROW(msg) SY_THROW_AS(::sy::Error, msg)

// SY_CHECK(cond, message pieces...): throws sy::Error when cond is false.
#define SY_CHECK(cond, msg)                                    \
  do {                                                         \
    if (!(cond)) SY_THROW("check failed: " #cond ": " << msg); \
  } while (0)

// MPI results (MPI_ERRORS_RETURN is set on every communicator we use).
#define SY_MPI_CHECK(call)                                               \
  do {                                                                   \
    int sy_mpi_rc_ = (call);                                             \
    if (sy_mpi_rc_ != MPI_SUCCESS)                                       \
      SY_THROW(#call " failed: " << ::sy::mpi_error_string(sy_mpi_rc_)); \
  } while (0)

namespace sy {
std::string mpi_error_string(int code);
}
