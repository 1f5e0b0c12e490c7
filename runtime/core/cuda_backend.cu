// The CUDA backend: cudaMalloc'd memory (never managed memory), cudaMemcpyAsync with
// cudaMemcpyDefault (unified addressing tells host from device), streams and events.
#include <map>
#include <mutex>
#include <vector>

#include "runtime/core/cpu_backend.h"
#include "runtime/core/cuda_check.h"
#include "runtime/core/pooled_backend.h"

namespace sy {

namespace {

template <typename T>
__global__ void fill_kernel(T* p, size_t n, T v) {
  for (size_t i = blockIdx.x * size_t(blockDim.x) + threadIdx.x; i < n;
       i += size_t(gridDim.x) * blockDim.x)
    p[i] = v;
}

template <typename T>
void launch_fill(void* dst, size_t n, T v, Stream stream) {
  launch(fill_kernel<T>, static_cast<int64_t>(n), stream, static_cast<T*>(dst), n, v);
}

// Freed blocks are reused by later allocations on the default stream (caching_allocator.h); a
// block that work on another stream uses (record_stream) comes back only once that work is done.
class CudaBackend final : public PooledBackend {
 public:
  CudaBackend()
      : PooledBackend(
            raw_alloc, [](void* p) { cudaFree(p); }, stream_events(), "GPU") {}
  DeviceType type() const override { return DeviceType::kCUDA; }

  void* allocate_pinned(size_t bytes) override {
    void* p = nullptr;
    cudaError_t rc = cudaMallocHost(&p, bytes ? bytes : 1);
    if (rc != cudaSuccess)
      SY_THROW("cudaMallocHost of " << bytes << " bytes failed (" << cudaGetErrorString(rc)
                                    << "); page-locked host memory is limited (ulimit -l)");
    return p;
  }
  void deallocate_pinned(void* ptr) override {
    if (ptr) cudaFreeHost(ptr);
  }

  void copy(void* dst, const void* src, size_t bytes, Stream stream) override {
    if (bytes == 0) return;
    SY_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDefault, to_cuda(stream)));
  }

  void fill(void* dst, size_t n, DType dtype, double value, Stream stream) override {
    switch (dtype) {
      case DType::kF32: launch_fill<float>(dst, n, static_cast<float>(value), stream); break;
      case DType::kBF16:
        launch_fill<uint16_t>(dst, n, float_to_bf16(static_cast<float>(value)).bits, stream);
        break;
      case DType::kI32: launch_fill<int32_t>(dst, n, static_cast<int32_t>(value), stream); break;
      case DType::kI64: launch_fill<int64_t>(dst, n, static_cast<int64_t>(value), stream); break;
      case DType::kU8: launch_fill<uint8_t>(dst, n, static_cast<uint8_t>(value), stream); break;
      case DType::kF64: launch_fill<double>(dst, n, value, stream); break;
    }
  }

  Stream create_stream() override {
    cudaStream_t s;
    SY_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    return Stream{s};
  }
  void destroy_stream(Stream s) override {
    if (s.handle) cudaStreamDestroy(to_cuda(s));
  }
  void synchronize(Stream s) override {
    note_host_sync();
    SY_CUDA_CHECK(cudaStreamSynchronize(to_cuda(s)));
  }
  bool query(Stream s) override {
    cudaError_t rc = cudaStreamQuery(to_cuda(s));
    if (rc == cudaErrorNotReady) return false;
    SY_CUDA_CHECK(rc);
    return true;
  }

  Event create_event() override {
    cudaEvent_t e;
    SY_CUDA_CHECK(cudaEventCreateWithFlags(&e, cudaEventDisableTiming));
    return Event{e};
  }
  void destroy_event(Event e) override {
    if (e.handle) cudaEventDestroy(to_cuda(e));
  }
  void record(Event e, Stream s) override {
    SY_CUDA_CHECK(cudaEventRecord(to_cuda(e), to_cuda(s)));
  }
  void wait(Stream s, Event e) override {
    SY_CUDA_CHECK(cudaStreamWaitEvent(to_cuda(s), to_cuda(e), 0));
  }
  void synchronize(Event e) override {
    note_host_sync();
    SY_CUDA_CHECK(cudaEventSynchronize(to_cuda(e)));
  }
  bool query(Event e) override {
    cudaError_t rc = cudaEventQuery(to_cuda(e));
    if (rc == cudaErrorNotReady) return false;
    SY_CUDA_CHECK(rc);
    return true;
  }

 private:
  static void* raw_alloc(size_t bytes) {
    void* p = nullptr;
    if (cudaMalloc(&p, bytes) == cudaSuccess) return p;
    cudaGetLastError();  // an allocation failure is not sticky: clear it, the caller retries
    return nullptr;
  }
  // The allocator calls these from frees, i.e. from destructors: they never throw. A stream that
  // cannot take an event (destroyed meanwhile — its owner synchronised it first) counts as done.
  static StreamEvents stream_events() {
    StreamEvents e;
    e.record = [](Stream s) -> void* {
      cudaEvent_t ev = nullptr;
      if (cudaEventCreateWithFlags(&ev, cudaEventDisableTiming) == cudaSuccess &&
          cudaEventRecord(ev, to_cuda(s)) == cudaSuccess)
        return ev;
      cudaGetLastError();
      if (ev) cudaEventDestroy(ev);
      return nullptr;
    };
    e.done = [](void* ev) {
      cudaError_t rc = cudaEventQuery(static_cast<cudaEvent_t>(ev));
      if (rc == cudaErrorNotReady) return false;
      if (rc != cudaSuccess) cudaGetLastError();  // a failed kernel: the next checked call says so
      return true;
    };
    e.destroy = [](void* ev) { cudaEventDestroy(static_cast<cudaEvent_t>(ev)); };
    return e;
  }
};

std::mutex g_mutex;

}  // namespace

void cuda_sync_for_timing_impl() {
  SY_CUDA_CHECK(cudaStreamSynchronize(nullptr));
}

int cuda_device_count_impl() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return n;
}

void cuda_set_device_impl(int index) {
  int n = cuda_device_count_impl();
  SY_CHECK(n > 0, "no GPU visible; cannot select device " << index);
  SY_CUDA_CHECK(cudaSetDevice(index % n));
}

int cuda_current_device_impl() {
  int dev = -1;
  SY_CUDA_CHECK(cudaGetDevice(&dev));
  return dev;
}

Backend* cuda_backend_or_null() {
  // Never destroyed: tensors in static storage may be freed after main returns.
  static CudaBackend* b = new CudaBackend;
  static int devices = cuda_device_count_impl();
  return devices > 0 ? b : nullptr;
}

cublasHandle_t cublas_handle(Stream stream) {
  static std::map<int, cublasHandle_t> handles;
  int dev = 0;
  SY_CUDA_CHECK(cudaGetDevice(&dev));
  std::lock_guard<std::mutex> lock(g_mutex);
  auto it = handles.find(dev);
  if (it == handles.end()) {
    cublasHandle_t h;
    SY_CUBLAS_CHECK(cublasCreate(&h));
    it = handles.emplace(dev, h).first;
  }
  SY_CUBLAS_CHECK(cublasSetStream(it->second, to_cuda(stream)));
  return it->second;
}

void* cuda_workspace(size_t bytes, Stream stream) {
  struct Buf {
    void* ptr = nullptr;
    size_t bytes = 0;
  };
  static std::map<void*, Buf> buffers;
  static std::vector<void*> retired;  // outgrown buffers: queued work may still read them
  std::lock_guard<std::mutex> lock(g_mutex);
  Buf& b = buffers[stream.handle];
  if (b.bytes < bytes) {
    // Grow without freeing: cudaFree would synchronise the whole device in the middle of a
    // pipeline. The old buffer is kept (growth doubles, so at most as much again) until exit.
    if (b.ptr) retired.push_back(b.ptr);
    size_t want = bytes < 4096 ? 4096 : bytes * 2;
    SY_CUDA_CHECK(cudaMalloc(&b.ptr, want));
    b.bytes = want;
  }
  return b.ptr;
}

}  // namespace sy
