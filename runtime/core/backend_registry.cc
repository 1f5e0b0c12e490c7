#include "runtime/core/backend.h"

#include <atomic>

#include "runtime/core/cpu_backend.h"
#include "runtime/core/error.h"

namespace sy {

Backend& backend(DeviceType type) {
  if (type == DeviceType::kCPU) return cpu_backend();
#if defined(SY_WITH_CUDA)
  Backend* b = cuda_backend_or_null();
  SY_CHECK(b != nullptr,
           "a CUDA tensor or op was requested but no GPU is visible; set device: CPU in the config "
           "or run on a machine with a GPU");
  return *b;
#else
  SY_THROW(
      "this build has no CUDA backend; reconfigure with -DSY_CUDA=ON (needs the CUDA toolkit) "
      "or set device: CPU in the config");
#endif
}

namespace {
std::atomic<int64_t> g_host_syncs{0};
}

int64_t host_syncs() {
  return g_host_syncs.load();
}

void note_host_sync() {
  ++g_host_syncs;
}

void sync_gpu_for_timing() {
#if defined(SY_WITH_CUDA)
  cuda_sync_for_timing_impl();
#endif
}

bool cuda_available() {
  return cuda_device_count() > 0;
}

int cuda_device_count() {
#if defined(SY_WITH_CUDA)
  return cuda_device_count_impl();
#else
  return 0;
#endif
}

void cuda_set_device(int index) {
#if defined(SY_WITH_CUDA)
  cuda_set_device_impl(index);
#else
  (void)index;
#endif
}

int cuda_current_device() {
#if defined(SY_WITH_CUDA)
  return cuda_device_count_impl() > 0 ? cuda_current_device_impl() : -1;
#else
  return -1;
#endif
}

}  // namespace sy
