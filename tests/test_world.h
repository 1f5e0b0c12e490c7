// What the MPI-aware test main provides to tests: the world communicator (MPI backend, host
// buffers), created once before the first test.
#pragma once

#include <memory>

#include "comm/mpi_communicator.h"

namespace sy {
namespace testing {

std::shared_ptr<MpiCommunicator> world();

}  // namespace testing
}  // namespace sy
