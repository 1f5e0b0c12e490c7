// Element types and devices.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "runtime/core/hostdevice.h"

namespace sy {

enum class DType { kF32, kBF16, kI32, kI64, kU8, kF64 };

size_t dtype_size(DType t);
const char* dtype_name(DType t);

enum class DeviceType { kCPU, kCUDA };

struct Device {
  DeviceType type = DeviceType::kCPU;
  int index = 0;
  bool is_cpu() const { return type == DeviceType::kCPU; }
  bool is_cuda() const { return type == DeviceType::kCUDA; }
  bool operator==(const Device& o) const { return type == o.type && index == o.index; }
  bool operator!=(const Device& o) const { return !(*this == o); }
  static Device cpu() { return Device{DeviceType::kCPU, 0}; }
  static Device cuda(int i = 0) { return Device{DeviceType::kCUDA, i}; }
};
// "cpu", or "cuda:<the GPU this process uses>".
std::string device_name(Device d);

// bfloat16 storage: the top 16 bits of an IEEE float. Conversion rounds to nearest even, the same
// on host and device (the CUDA cast kernel calls these functions).
struct bf16 {
  uint16_t bits;
};

SY_HD uint32_t sy_float_bits(float f) {
#if defined(__CUDA_ARCH__)
  return __float_as_uint(f);
#else
  uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
#endif
}

SY_HD float sy_bits_float(uint32_t u) {
#if defined(__CUDA_ARCH__)
  return __uint_as_float(u);
#else
  float f;
  std::memcpy(&f, &u, 4);
  return f;
#endif
}

SY_HD bf16 float_to_bf16(float f) {
  uint32_t u = sy_float_bits(f);
  if ((u & 0x7f800000u) == 0x7f800000u && (u & 0x007fffffu)) {
    return bf16{static_cast<uint16_t>((u >> 16) | 0x40u)};  // NaN stays a (quiet) NaN
  }
  uint32_t rounding = 0x7fffu + ((u >> 16) & 1u);
  return bf16{static_cast<uint16_t>((u + rounding) >> 16)};
}

SY_HD float bf16_to_float(bf16 h) {
  return sy_bits_float(static_cast<uint32_t>(h.bits) << 16);
}

// Reading and writing a floating element as fp32 math: kernels templated on the storage type
// (f32 or bf16) load with load_float and store with store_as<T>.
SY_HD float load_float(float x) {
  return x;
}
SY_HD float load_float(bf16 x) {
  return bf16_to_float(x);
}
template <typename T>
SY_HD T store_as(float x);
template <>
SY_HD float store_as<float>(float x) {
  return x;
}
template <>
SY_HD bf16 store_as<bf16>(float x) {
  return float_to_bf16(x);
}

// Calls f(T{}) with T the storage type of a floating dtype: bf16 for kBF16, float otherwise (the
// caller has checked the dtype). Lets one templated loop or kernel serve both precisions.
template <typename F>
void with_float_type(DType t, F&& f) {
  if (t == DType::kBF16)
    f(bf16{});
  else
    f(float{});
}

template <typename T>
struct DTypeOf;
template <>
struct DTypeOf<float> {
  static constexpr DType value = DType::kF32;
};
template <>
struct DTypeOf<double> {
  static constexpr DType value = DType::kF64;
};
template <>
struct DTypeOf<bf16> {
  static constexpr DType value = DType::kBF16;
};
template <>
struct DTypeOf<int32_t> {
  static constexpr DType value = DType::kI32;
};
template <>
struct DTypeOf<int64_t> {
  static constexpr DType value = DType::kI64;
};
template <>
struct DTypeOf<uint8_t> {
  static constexpr DType value = DType::kU8;
};

}  // namespace sy
