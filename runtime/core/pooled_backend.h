// A Backend whose memory comes from a caching allocator (runtime/core/caching_allocator.h): the
// memory calls the CPU and CUDA backends share, written once. A backend gives the raw allocation,
// the raw free and, where it has streams, their events.
#pragma once

#include <functional>
#include <string>
#include <utility>

#include "runtime/core/backend.h"
#include "runtime/core/caching_allocator.h"

namespace sy {

class PooledBackend : public Backend {
 public:
  void* allocate(size_t bytes) override { return pool_.allocate(bytes); }
  void deallocate(void* ptr) override { pool_.deallocate(ptr); }
  void record_stream(void* ptr, Stream stream) override { pool_.record_stream(ptr, stream); }
  MemoryStats memory_stats() const override { return pool_.stats(); }
  void reset_peak_memory() override { pool_.reset_peaks(); }
  void release_cached_memory() override { pool_.release_cached(); }

 protected:
  PooledBackend(std::function<void*(size_t)> raw_alloc, std::function<void(void*)> raw_free,
                StreamEvents events, std::string what)
      : pool_(std::move(raw_alloc), std::move(raw_free), std::move(events), std::move(what)) {}

 private:
  CachingAllocator pool_;
};

}  // namespace sy
