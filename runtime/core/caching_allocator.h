// A caching allocator (DESIGN.md contract 13: no allocation on the hot path of a step). Freed
// blocks go to a free list keyed by their rounded size and are handed out again, so after the first
// step a training loop reuses the same blocks instead of calling malloc / cudaMalloc (and, on the
// CPU, instead of page-faulting fresh mmap'd memory every step). Sizes are rounded up to a power of
// two below 1 MiB and to a multiple of 1 MiB above, which bounds the waste. Thread-safe.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <unordered_map>
#include <vector>

namespace sy {

class CachingAllocator {
 public:
  CachingAllocator(std::function<void*(size_t)> raw_alloc, std::function<void(void*)> raw_free)
      : raw_alloc_(std::move(raw_alloc)), raw_free_(std::move(raw_free)) {}
  ~CachingAllocator() { release_cached(); }

  void* allocate(size_t bytes);
  void deallocate(void* ptr);
  // Returns every cached (free) block to the system.
  void release_cached();

  size_t bytes_in_use() const;
  size_t peak_bytes_in_use() const;
  size_t bytes_cached() const;

  static size_t round_size(size_t bytes);

 private:
  std::function<void*(size_t)> raw_alloc_;
  std::function<void(void*)> raw_free_;
  mutable std::mutex mu_;
  std::map<size_t, std::vector<void*>> free_;  // rounded size → free blocks
  std::unordered_map<void*, size_t> live_;     // block → rounded size
  size_t in_use_ = 0, peak_ = 0, cached_ = 0;
};

}  // namespace sy
