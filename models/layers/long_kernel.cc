#include "models/layers/long_kernel.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

// The explicit kernel's start: random taps decaying with |lag| (lag j, or j − 2T in the
// bidirectional kernel's second half).
void init_explicit(Param& k, int64_t seq_len, uint64_t seed) {
  const int64_t rows = k.value.dim(0), taps = k.value.dim(1);
  std::vector<float> v(static_cast<size_t>(rows * taps));
  for (int64_t c = 0; c < rows; ++c)
    for (int64_t j = 0; j < taps; ++j) {
      const int64_t s = j < seq_len ? j : 2 * seq_len - j;
      v[c * taps + j] = std::exp(-0.3f * static_cast<float>(s)) *
                        random_normal(seed, stream_id(k.name.c_str()), c * taps + j) * 0.5f;
    }
  k.value.copy_from(Tensor::from_vector(v, {rows, taps}));
}

}  // namespace

LongKernel::LongKernel(const std::string& name, int64_t dim, int64_t seq_len,
                       const LongKernelOptions& o, uint64_t seed, Device device)
    : c_(o.heads >= 1 && dim % o.heads == 0 ? dim / o.heads : 0),
      taps_(o.filter.bidirectional ? 2 * seq_len : seq_len) {
  SY_CHECK(c_ > 0,
           "long kernel '" << name << "': " << o.heads << " heads must divide the width " << dim);
  if (o.implicit) {
    filter_ =
        std::make_unique<ImplicitFilter>(name + ".filter", c_, seq_len, o.filter, seed, device);
    for (Param* p : filter_->params()) {
      p->lr = o.filter_lr;
      p->weight_decay = o.filter_weight_decay;
    }
    skip_ = Param(name + ".skip", {c_}, device);
    fill_normal(skip_.value, seed, stream_id(skip_.name.c_str()), 1.0f);
    skip_.keep_fp32 = true;
  } else {
    explicit_ = Param(name + ".k", {c_, taps_}, device);
    init_explicit(explicit_, seq_len, seed);
    explicit_.keep_fp32 = true;  // the long convolution runs in fp32
  }
}

std::vector<Param*> LongKernel::params() {
  if (!filter_) return {&explicit_};
  std::vector<Param*> p = filter_->params();
  p.push_back(&skip_);
  return p;
}

const Tensor& LongKernel::forward() {
  if (!filter_) return explicit_.value;
  const Device dev = skip_.value.device();
  Tensor kt = Tensor::empty({taps_, c_}, DType::kF32, dev);
  filter_->forward(kt);
  add_bias(kt.slice_rows(0, 1), skip_.value);  // + D at lag 0
  kernel_ = Tensor::empty({c_, taps_}, DType::kF32, dev);
  permute(kernel_, kt, {1, 0});
  return kernel_;
}

const Tensor& LongKernel::grad_buffer() {
  if (!filter_) return explicit_.grad;
  dkernel_ = Tensor::zeros({c_, taps_}, DType::kF32, skip_.value.device());
  return dkernel_;
}

void LongKernel::backward() {
  if (!filter_) return;
  Tensor dkt = Tensor::empty({taps_, c_}, DType::kF32, dkernel_.device());
  permute(dkt, dkernel_, {1, 0});
  add_scaled(skip_.grad, dkt.slice_rows(0, 1).reshape({c_}), 1.0f);
  filter_->backward(dkt);
  release(dkernel_);
}

void LongKernel::drop_activations() {
  if (filter_) filter_->drop_activations();
  release(kernel_, dkernel_);
}

}  // namespace sy
