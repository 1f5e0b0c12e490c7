#include "runtime/core/cpu_backend.h"

#include <cstdlib>
#include <cstring>

#include "runtime/core/cpu_threads.h"
#include "runtime/core/error.h"
#include "runtime/core/pooled_backend.h"

namespace sy {

namespace {

// Memory fresh from the system, its pages touched at once by the CPU threads, each an equal
// share as parallel_for gives the ops: no step page-faults on it later, and on a machine of
// several NUMA nodes each page lives near a thread that uses it (first touch).
void* take_from_system(size_t bytes) {
  constexpr int64_t kPage = 4096, kPagesPerPart = 256;  // 1 MiB
  char* p = static_cast<char*>(std::aligned_alloc(64, bytes));
  if (p == nullptr) return nullptr;
  parallel_for(static_cast<int64_t>(bytes) / kPage, kPagesPerPart, [p](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) p[i * kPage] = 0;
  });
  return p;
}

template <typename T>
void fill_typed(void* dst, size_t n, T v) {
  T* p = static_cast<T*>(dst);
  for (size_t i = 0; i < n; ++i) p[i] = v;
}

// 64-byte alignment: cache lines and AVX-512 loads (the rounded sizes are multiples of 64).
class CpuBackend final : public PooledBackend {
 public:
  CpuBackend()
      : PooledBackend(
            take_from_system, [](void* p) { std::free(p); }, StreamEvents{}, "host") {}
  DeviceType type() const override { return DeviceType::kCPU; }

  void* allocate_pinned(size_t bytes) override {
    void* p = std::malloc(bytes ? bytes : 1);
    SY_CHECK(p != nullptr, "out of host memory allocating " << bytes << " bytes");
    return p;
  }
  void deallocate_pinned(void* ptr) override { std::free(ptr); }

  void copy(void* dst, const void* src, size_t bytes, Stream) override {
    if (bytes) std::memmove(dst, src, bytes);
  }

  void fill(void* dst, size_t count, DType dtype, double value, Stream) override {
    switch (dtype) {
      case DType::kF32: fill_typed<float>(dst, count, static_cast<float>(value)); break;
      case DType::kBF16:
        fill_typed<bf16>(dst, count, float_to_bf16(static_cast<float>(value)));
        break;
      case DType::kI32: fill_typed<int32_t>(dst, count, static_cast<int32_t>(value)); break;
      case DType::kI64: fill_typed<int64_t>(dst, count, static_cast<int64_t>(value)); break;
      case DType::kU8: fill_typed<uint8_t>(dst, count, static_cast<uint8_t>(value)); break;
      case DType::kF64: fill_typed<double>(dst, count, value); break;
    }
  }

  // The CPU is synchronous: every op has completed when it returns. Streams are distinct tokens
  // (the caching allocator keeps a pool per stream, on the CPU as on a GPU); events are no-ops.
  Stream create_stream() override { return Stream{new char}; }
  void destroy_stream(Stream s) override { delete static_cast<char*>(s.handle); }
  void synchronize(Stream) override {}
  bool query(Stream) override { return true; }
  Event create_event() override { return Event{}; }
  void destroy_event(Event) override {}
  void record(Event, Stream) override {}
  void wait(Stream, Event) override {}
  void synchronize(Event) override {}
  bool query(Event) override { return true; }
};

}  // namespace

Backend& cpu_backend() {
  // Never destroyed: tensors in static storage may be freed after main returns.
  static CpuBackend* b = new CpuBackend;
  return *b;
}

}  // namespace sy
