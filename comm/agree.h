// Agreeing on the outcome of a rank-local step (a file operation, a lock): each rank runs its part,
// then all of them learn whether any failed, so a failure on one rank (a corrupt or missing file, a
// full disk, a held lock) becomes the same error on every rank instead of leaving the others
// waiting in the next collective.
#pragma once

#include <functional>

#include "comm/communicator.h"

namespace sy {

// Collective over `world`. Runs fn; when it threw on any rank, every rank throws sy::Error naming
// the failing ranks and the first one's message, prefixed by `what`.
void agree(Communicator& world, const char* what, const std::function<void()>& fn);

}  // namespace sy
