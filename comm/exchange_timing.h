// Timing an all-to-all on a group, for the choices made by measuring (parallel.a2a AUTO, the
// planner's calibration): the same exchange on every rank, the slowest rank's time kept.
#pragma once

#include <cstddef>

#include "comm/communicator.h"

namespace sy {

// Seconds of one all-to-all-v in which every rank sends `per_peer` host bytes to every other
// rank: the best of `reps` after one warm-up, the maximum over the group's ranks (every rank gets
// the same value). Collective over `group`.
double time_all_to_all_s(Communicator& group, size_t per_peer, int reps);

}  // namespace sy
