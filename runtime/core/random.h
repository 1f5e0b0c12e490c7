// Counter-based random numbers: value i of stream s under seed k is a pure function of (k, s, i),
// so any rank can generate exactly the slice of a tensor it owns (the weights of global expert e
// are the same whichever rank holds them and whatever ep is), and nothing depends on call order.
#pragma once

#include <cmath>
#include <cstdint>

#include "runtime/core/hostdevice.h"
#include "runtime/core/tensor.h"

namespace sy {

// SplitMix64 finaliser: a bijective, well-mixed hash of a 64-bit value (host and device: hash
// routing runs it in a kernel).
SY_HD uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

inline uint64_t random_bits(uint64_t seed, uint64_t stream, uint64_t index) {
  return mix64(mix64(mix64(seed) ^ stream) ^ index);
}

// Uniform in [0, 1) with 24 random bits (exact in f32).
inline float random_uniform(uint64_t seed, uint64_t stream, uint64_t index) {
  return static_cast<float>(random_bits(seed, stream, index) >> 40) * (1.0f / 16777216.0f);
}

// Standard normal by Box–Muller from two counter draws.
inline float random_normal(uint64_t seed, uint64_t stream, uint64_t index) {
  float u1 = random_uniform(seed, stream, 2 * index) + (1.0f / 33554432.0f);
  float u2 = random_uniform(seed, stream, 2 * index + 1);
  return std::sqrt(-2.0f * std::log(u1)) * std::cos(6.28318530717958647692f * u2);
}

// Fills a CPU f32 tensor: element i gets scale · N(0,1) (or U(-scale, scale)) of index offset + i.
void fill_normal(const Tensor& t, uint64_t seed, uint64_t stream, float scale, uint64_t offset = 0);
void fill_uniform(const Tensor& t, uint64_t seed, uint64_t stream, float scale,
                  uint64_t offset = 0);

// A stable 64-bit id for a parameter name, used as its random stream.
uint64_t stream_id(const char* name);

}  // namespace sy
