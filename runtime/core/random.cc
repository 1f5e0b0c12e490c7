#include "runtime/core/random.h"

#include <vector>

namespace sy {

namespace {
template <typename Draw>
void fill_with(const Tensor& t, Draw draw) {
  std::vector<float> host(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < host.size(); ++i) host[i] = draw(i);
  if (host.empty()) return;
  t.copy_from(Tensor::wrap(host.data(), t.shape(), DType::kF32));
}
}  // namespace

void fill_normal(const Tensor& t, uint64_t seed, uint64_t stream, float scale, uint64_t offset) {
  fill_with(t, [&](size_t i) { return scale * random_normal(seed, stream, offset + i); });
}

void fill_uniform(const Tensor& t, uint64_t seed, uint64_t stream, float scale, uint64_t offset) {
  fill_with(t, [&](size_t i) {
    return scale * (2.0f * random_uniform(seed, stream, offset + i) - 1.0f);
  });
}

uint64_t stream_id(const char* name) {
  uint64_t h = 1469598103934665603ull;  // FNV-1a
  for (const char* p = name; *p; ++p) h = (h ^ static_cast<unsigned char>(*p)) * 1099511628211ull;
  return h;
}

}  // namespace sy
