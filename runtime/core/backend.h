// The backend interface: memory (through a caching allocator: freed blocks are reused), copies,
// fills, streams and events for one device type. The CPU backend is synchronous (streams and events
// are no-ops, which is right: every CPU op has finished when it returns); the CUDA backend maps
// them to cudaStream_t / cudaEvent_t.
#pragma once

#include <cstddef>
#include <cstdint>

#include "runtime/core/dtype.h"

namespace sy {

// An opaque stream handle. The default (null) stream on CUDA; meaningless on CPU.
struct Stream {
  void* handle = nullptr;
};

struct Event {
  void* handle = nullptr;
};

// A caching allocator's bytes: in use (handed out) and reserved (held from the system: in use,
// cached, and freed blocks waiting for other streams), with their peaks.
struct MemoryStats {
  size_t in_use = 0, peak_in_use = 0;
  size_t reserved = 0, peak_reserved = 0;
  size_t cached = 0;          // free blocks ready for reuse
  int64_t retries = 0;        // allocations that released the cache and tried again
  int64_t system_allocs = 0;  // blocks taken from the system (malloc / cudaMalloc) so far
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual DeviceType type() const = 0;

  // Memory for work on the default stream, through the caching allocator
  // (runtime/core/caching_allocator.h).
  virtual void* allocate(size_t bytes) = 0;
  virtual void deallocate(void* ptr) = 0;
  // Work queued on `stream` uses the block at ptr too: its free waits for that work.
  virtual void record_stream(void* ptr, Stream stream) = 0;
  // The caching allocator's bytes in use and reserved, with their peaks since reset_peak_memory().
  virtual MemoryStats memory_stats() const = 0;
  virtual void reset_peak_memory() = 0;
  // Returns the allocator's cached blocks to the system (as torch.cuda.empty_cache).
  virtual void release_cached_memory() = 0;
  // Host memory the device can copy to and from asynchronously (page-locked on CUDA, plain on the
  // CPU): the staging buffers of exchanges that pass device data through host MPI.
  virtual void* allocate_pinned(size_t bytes) = 0;
  virtual void deallocate_pinned(void* ptr) = 0;

  // Copies bytes between any two places this backend can reach (host↔device, device↔device).
  virtual void copy(void* dst, const void* src, size_t bytes, Stream stream) = 0;
  // Sets count elements of type dtype to value.
  virtual void fill(void* dst, size_t count, DType dtype, double value, Stream stream) = 0;

  virtual Stream create_stream() = 0;
  virtual void destroy_stream(Stream stream) = 0;
  virtual void synchronize(Stream stream) = 0;
  // True when all work queued on the stream has finished (never blocks).
  virtual bool query(Stream stream) = 0;

  virtual Event create_event() = 0;
  virtual void destroy_event(Event event) = 0;
  virtual void record(Event event, Stream stream) = 0;
  // Makes later work on `stream` wait for `event`, without blocking the host.
  virtual void wait(Stream stream, Event event) = 0;
  virtual void synchronize(Event event) = 0;
  // True when the work before the event's last record has finished (never blocks).
  virtual bool query(Event event) = 0;
};

// Host synchronisations, counted over the process: device→host reads (Tensor::to_vector and
// Tensor::to(cpu) — on the CPU backend too, where each stands for the read the same code makes on a
// GPU) and the CUDA backend's stream and event waits (a copy from a GPU into host memory is one).
// Uploads (Tensor::from_vector onto a device, host→device copies) do not wait and do not count. The
// MoE layer reports them per pass (routing must not quietly grow host round trips).
int64_t host_syncs();
void note_host_sync();
// Waits for the GPU's default stream without counting it: a benchmark's step timer measuring the
// device work of a step is not a synchronisation of the program's own. No-op without CUDA.
void sync_gpu_for_timing();

// The backend for a device type. Throws when the CUDA backend was not built or no GPU is present.
Backend& backend(DeviceType type);
inline Backend& backend(Device d) {
  return backend(d.type);
}

// True when this build has the CUDA backend and at least one GPU is visible.
bool cuda_available();
int cuda_device_count();
// Chooses the GPU this process uses (rank-local). No-op without CUDA.
void cuda_set_device(int index);
// The GPU this thread uses (−1 without CUDA). A thread the runtime starts (the communication
// thread) selects the same GPU as the thread that started it.
int cuda_current_device();

}  // namespace sy
