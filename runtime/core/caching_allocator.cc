#include "runtime/core/caching_allocator.h"

#include <algorithm>
#include <sstream>

#include "runtime/core/error.h"

namespace sy {

namespace {

double mib(size_t bytes) {
  return static_cast<double>(bytes) / (1 << 20);
}

}  // namespace

CachingAllocator::CachingAllocator(std::function<void*(size_t)> raw_alloc,
                                   std::function<void(void*)> raw_free, StreamEvents events,
                                   std::string what)
    : raw_alloc_(std::move(raw_alloc)),
      raw_free_(std::move(raw_free)),
      events_(std::move(events)),
      what_(std::move(what)) {}

CachingAllocator::~CachingAllocator() {
  release_cached();
}

size_t CachingAllocator::round_size(size_t bytes) {
  constexpr size_t kSmall = 512, kLarge = 128 << 10, kMiB = size_t{1} << 20;
  const size_t unit = bytes < kMiB ? kSmall : kLarge;
  return std::max(kSmall, (bytes + unit - 1) / unit * unit);
}

void* CachingAllocator::allocate(size_t bytes, Stream stream) {
  if (bytes == 0) return nullptr;
  const size_t size = round_size(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  collect_pending();
  void* p = take_cached(size, stream.handle);
  if (!p) p = grow(size, bytes);
  blocks_[p].stream = stream.handle;
  note_live(p, blocks_[p].size);
  return p;
}

// The best-fitting cached block of the stream, or null.
void* CachingAllocator::take_cached(size_t size, void* stream) {
  auto pool = free_.find(stream);
  if (pool == free_.end()) return nullptr;
  auto it = pool->second.lower_bound(size);
  if (it == pool->second.end() || !fits(it->first, size)) return nullptr;
  void* p = it->second;
  stats_.cached -= it->first;
  pool->second.erase(it);
  return p;
}

// A new block from the system; on failure, releases the cache and tries once more.
void* CachingAllocator::grow(size_t size, size_t bytes) {
  void* p = raw_alloc_(size);
  if (!p) {
    ++stats_.retries;
    release_cached_locked();
    p = raw_alloc_(size);
  }
  if (!p) SY_THROW(out_of_memory(bytes, size));
  ++stats_.system_allocs;
  Block& b = blocks_[p];
  b.size = size;
  stats_.reserved += size;
  stats_.peak_reserved = std::max(stats_.peak_reserved, stats_.reserved);
  return p;
}

void CachingAllocator::note_live(void* p, size_t size) {
  blocks_[p].live = true;
  stats_.in_use += size;
  stats_.peak_in_use = std::max(stats_.peak_in_use, stats_.in_use);
}

std::string CachingAllocator::out_of_memory(size_t bytes, size_t size) const {
  std::ostringstream os;
  os.precision(1);
  os << std::fixed << "out of " << what_ << " memory: asked for " << mib(bytes) << " MiB ("
     << mib(size) << " MiB rounded) with " << mib(stats_.in_use) << " MiB in use and "
     << mib(stats_.reserved - stats_.in_use)
     << " MiB cached or waiting for streams (the cache was released and the allocation "
        "retried). Reduce data.global_batch, model.seq_len or the model size, or recompute "
        "activations (recompute: MOE_EXPERTS or BLOCK)";
  return os.str();
}

void CachingAllocator::deallocate(void* ptr) {
  if (!ptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(ptr);
  if (it == blocks_.end() || !it->second.live) return;  // not ours: leave the pools intact
  Block& b = it->second;
  b.live = false;
  stats_.in_use -= b.size;
  for (void* s : b.other_streams) b.events.push_back(events_.record(Stream{s}));
  b.other_streams.clear();
  pending_.push_back(ptr);
  collect_pending();
}

void CachingAllocator::record_stream(void* ptr, Stream stream) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = blocks_.find(ptr);
  SY_CHECK(it != blocks_.end() && it->second.live,
           "record_stream: " << ptr << " is not a live block of the " << what_ << " allocator");
  Block& b = it->second;
  if (stream.handle != b.stream && std::find(b.other_streams.begin(), b.other_streams.end(),
                                             stream.handle) == b.other_streams.end())
    b.other_streams.push_back(stream.handle);
}

// Freed blocks whose other streams have finished with them go back to their stream's pool.
void CachingAllocator::collect_pending() {
  auto back_to_pool = [this](void* p) {
    Block& b = blocks_[p];
    for (void* e : b.events)
      if (e && !events_.done(e)) return false;
    for (void* e : b.events)
      if (e) events_.destroy(e);
    b.events.clear();
    free_[b.stream].emplace(b.size, p);
    stats_.cached += b.size;
    return true;
  };
  pending_.erase(std::remove_if(pending_.begin(), pending_.end(), back_to_pool), pending_.end());
}

void CachingAllocator::release_cached() {
  std::lock_guard<std::mutex> lock(mu_);
  collect_pending();
  release_cached_locked();
}

void CachingAllocator::release_cached_locked() {
  for (auto& [stream, pool] : free_)
    for (auto& [size, p] : pool) {
      raw_free_(p);
      blocks_.erase(p);
      stats_.reserved -= size;
    }
  free_.clear();
  stats_.cached = 0;
}

MemoryStats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

void CachingAllocator::reset_peaks() {
  std::lock_guard<std::mutex> lock(mu_);
  stats_.peak_in_use = stats_.in_use;
  stats_.peak_reserved = stats_.reserved;
}

}  // namespace sy
