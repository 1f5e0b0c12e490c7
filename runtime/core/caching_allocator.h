// A caching allocator (DESIGN.md contract 13: no allocation on the hot path of a step). Freed
// blocks go to a free pool and are handed out again, so after the first step a training loop
// reuses the same blocks instead of calling malloc / cudaMalloc (and, on the CPU, instead of
// page-faulting fresh memory every step). Thread-safe.
//
//   Sizes       rounded up to a multiple of 512 bytes below 1 MiB and of 128 KiB above (at most
//               1/8 wasted: the long-lived flat buffers of parameters, gradients and optimizer
//               state are mostly over 1 MiB).
//   Best fit    a request takes the smallest cached block of its stream that is at least its
//               rounded size and wastes at most a quarter of it (kMaxWaste) — so buffers whose
//               size varies from step to step (MoE dispatch) reuse each other's blocks instead
//               of piling up one cached block per size.
//   Streams     a block belongs to the stream it was allocated for and is reused only for that
//               stream. record_stream(ptr, s) says work queued on another stream s uses it too:
//               its free then records an event on s, and the block returns to the pool only once
//               that event has completed — never reused while the other stream may still read
//               or write it.
//   Failure     when the system refuses memory, the cache is released and the allocation
//               retried once; if it fails again, an Error says how much is in use, cached and
//               asked for.
//   Stats       bytes in use (handed out) and reserved (held from the system: in use, cached and
//               waiting for streams), with their peaks since reset_peaks().
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/core/backend.h"

namespace sy {

// How the allocator follows the work of streams: the backend's events. record() returns an event
// recorded now on the stream (null where work never outlives the call, as on the CPU); done()
// never blocks.
struct StreamEvents {
  std::function<void*(Stream)> record = [](Stream) -> void* { return nullptr; };
  std::function<bool(void*)> done = [](void*) { return true; };
  std::function<void(void*)> destroy = [](void*) {};
};

class CachingAllocator {
 public:
  static constexpr size_t kMaxWaste = 4;  // a cached block may exceed the request by size/4

  // raw_alloc returns null when the system has no memory left; `what` names the memory in errors.
  CachingAllocator(std::function<void*(size_t)> raw_alloc, std::function<void(void*)> raw_free,
                   StreamEvents events = {}, std::string what = "host");
  ~CachingAllocator();

  void* allocate(size_t bytes, Stream stream = {});
  void deallocate(void* ptr);
  // Work queued on `stream` uses the block at ptr (as returned by allocate) besides its own stream.
  void record_stream(void* ptr, Stream stream);
  // Returns every cached block to the system (blocks still waiting for streams stay).
  void release_cached();

  MemoryStats stats() const;
  void reset_peaks();

  static size_t round_size(size_t bytes);
  // Whether a cached block of `block` bytes may serve a request rounded to `request` bytes.
  static bool fits(size_t block, size_t request) {
    return block >= request && block - request <= request / kMaxWaste;
  }

 private:
  struct Block {
    size_t size = 0;
    void* stream = nullptr;
    std::vector<void*> other_streams;  // record_stream
    std::vector<void*> events;         // after a free: one per other stream, pending
    bool live = false;
  };

  void* take_cached(size_t size, void* stream);
  void* grow(size_t size, size_t bytes);
  void collect_pending();
  void release_cached_locked();
  void note_live(void* p, size_t size);
  std::string out_of_memory(size_t bytes, size_t size) const;

  std::function<void*(size_t)> raw_alloc_;
  std::function<void(void*)> raw_free_;
  StreamEvents events_;
  std::string what_;
  mutable std::mutex mu_;
  std::unordered_map<void*, Block> blocks_;             // every block held from the system
  std::map<void*, std::multimap<size_t, void*>> free_;  // stream → size → cached block
  std::vector<void*> pending_;                          // freed, waiting for other streams
  MemoryStats stats_;
};

}  // namespace sy
