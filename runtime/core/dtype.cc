#include "runtime/core/dtype.h"

#include "runtime/core/backend.h"
#include "runtime/core/error.h"

namespace sy {

size_t dtype_size(DType t) {
  switch (t) {
    case DType::kF32: return 4;
    case DType::kBF16: return 2;
    case DType::kI32: return 4;
    case DType::kI64: return 8;
    case DType::kU8: return 1;
    case DType::kF64: return 8;
  }
  SY_THROW("unknown dtype " << static_cast<int>(t));
}

const char* dtype_name(DType t) {
  switch (t) {
    case DType::kF32: return "f32";
    case DType::kBF16: return "bf16";
    case DType::kI32: return "i32";
    case DType::kI64: return "i64";
    case DType::kU8: return "u8";
    case DType::kF64: return "f64";
  }
  return "?";
}

// A CUDA tensor lives on the GPU its process selected (cuda_set_device: the local rank's), so the
// name says which one rather than the tensor's nominal index.
std::string device_name(Device d) {
  if (d.is_cpu()) return "cpu";
  const int gpu = cuda_current_device();
  return "cuda:" + std::to_string(gpu >= 0 ? gpu : d.index);
}

}  // namespace sy
