#pragma once

#include "runtime/core/backend.h"

namespace sy {
Backend& cpu_backend();
#if defined(SY_WITH_CUDA)
Backend* cuda_backend_or_null();  // null when no GPU is visible
int cuda_device_count_impl();
void cuda_sync_for_timing_impl();
void cuda_set_device_impl(int index);
int cuda_current_device_impl();
#endif
}  // namespace sy
