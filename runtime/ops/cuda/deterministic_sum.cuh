// Deterministic device sums in double, without a host read: a fixed grid of per-thread partials
// (128 × kBlockSize, whatever n), then one block adding them in a fixed tree. Used by sum_squares
// and by the gradient of a device-scalar scale.
#pragma once

#include "runtime/core/backend.h"

namespace sy {
namespace cuda {

// *out (device) = Σ a[i]·b[i] over n elements (a may be b), queued on `stream`.
void device_dot(double* out, const float* a, const float* b, int64_t n, Stream stream);

}  // namespace cuda
}  // namespace sy
