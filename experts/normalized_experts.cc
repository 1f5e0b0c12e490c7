#include "experts/normalized_experts.h"

#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

constexpr float kEps = 1e-5f;  // fairseq's LayerNorm

struct NormalizedState final : ExpertState {
  std::unique_ptr<ExpertState> inner;
  Tensor x, mean, rstd;  // the rows (f32) and their statistics
};

}  // namespace

NormalizedExperts::NormalizedExperts(std::unique_ptr<Experts> inner, int64_t width, Device device)
    : inner_(std::move(inner)),
      ones_(Tensor::empty({width}, DType::kF32, device)),
      zeros_(Tensor::zeros({width}, DType::kF32, device)) {
  ones_.fill(1.0);
}

void NormalizedExperts::forward(const Tensor& y, std::unique_ptr<ExpertState>& saved,
                                const Tensor& x, const ExpertSegments& segments) {
  auto s = std::make_unique<NormalizedState>();
  const int64_t m = x.rows(), w = x.cols();
  const Device dev = x.device();
  s->x = as_compute(x, DType::kF32);
  s->mean = Tensor::empty({m}, DType::kF32, dev);
  s->rstd = Tensor::empty({m}, DType::kF32, dev);
  Tensor xn = Tensor::empty({m, w}, DType::kF32, dev);
  layernorm_forward(xn, s->mean, s->rstd, s->x, ones_, zeros_, kEps);
  inner_->forward(y, s->inner, as_compute(xn, x.dtype()), segments);  // in the payload dtype
  saved = std::move(s);
}

void NormalizedExperts::backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                                      const ExpertSegments& segments) {
  auto& s = static_cast<NormalizedState&>(saved);
  const Device dev = dy.device();
  Tensor dxn = Tensor::empty(dx.shape(), dx.dtype(), dev);
  inner_->backward_data(dxn, *s.inner, dy, segments);
  const bool f32 = dx.dtype() == DType::kF32;
  Tensor din = f32 ? dx : Tensor::empty(s.x.shape(), DType::kF32, dev);
  Tensor dgamma = Tensor::zeros({s.x.cols()}, DType::kF32, dev);  // of the fixed affine: unused
  Tensor dbeta = Tensor::zeros({s.x.cols()}, DType::kF32, dev);
  layernorm_backward(din, dgamma, dbeta, as_compute(dxn, DType::kF32), s.x, s.mean, s.rstd, ones_);
  if (!f32) cast(dx, din);
}

void NormalizedExperts::backward_weights(const ExpertState& saved, const Tensor& dy,
                                         const ExpertSegments& segments) {
  inner_->backward_weights(*static_cast<const NormalizedState&>(saved).inner, dy, segments);
}

}  // namespace sy
