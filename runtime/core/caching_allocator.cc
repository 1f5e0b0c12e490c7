#include "runtime/core/caching_allocator.h"

namespace sy {

size_t CachingAllocator::round_size(size_t bytes) {
  constexpr size_t kMiB = size_t{1} << 20;
  if (bytes >= kMiB) return (bytes + kMiB - 1) / kMiB * kMiB;
  size_t r = 512;
  while (r < bytes) r <<= 1;
  return r;
}

void* CachingAllocator::allocate(size_t bytes) {
  if (bytes == 0) return nullptr;
  size_t size = round_size(bytes);
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = free_.find(size);
    if (it != free_.end() && !it->second.empty()) {
      void* p = it->second.back();
      it->second.pop_back();
      cached_ -= size;
      live_[p] = size;
      in_use_ += size;
      if (in_use_ > peak_) peak_ = in_use_;
      return p;
    }
  }
  void* p = raw_alloc_(size);  // may throw; outside the lock
  std::lock_guard<std::mutex> lock(mu_);
  live_[p] = size;
  in_use_ += size;
  if (in_use_ > peak_) peak_ = in_use_;
  return p;
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(ptr);
  if (it == live_.end()) return;  // not ours: ignore rather than corrupt the pools
  size_t size = it->second;
  live_.erase(it);
  in_use_ -= size;
  free_[size].push_back(ptr);
  cached_ += size;
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, blocks] : free_)
    for (void* p : blocks) raw_free_(p);
  free_.clear();
  cached_ = 0;
}

size_t CachingAllocator::bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return in_use_;
}

size_t CachingAllocator::peak_bytes_in_use() const {
  std::lock_guard<std::mutex> lock(mu_);
  return peak_;
}

size_t CachingAllocator::bytes_cached() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}

}  // namespace sy
