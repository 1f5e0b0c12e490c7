#include "experts/normalized_experts.h"

#include "runtime/ops/ops.h"

namespace sy {

namespace {

constexpr float kEps = 1e-5f;  // fairseq's LayerNorm

struct NormalizedState final : ExpertState {
  std::unique_ptr<ExpertState> inner;
  Tensor x, mean, rstd;  // the rows (f32) and their statistics
};

// t as f32: itself, or a widened copy.
Tensor as_f32(const Tensor& t) {
  if (t.dtype() == DType::kF32) return t;
  Tensor out = Tensor::empty(t.shape(), DType::kF32, t.device());
  cast(out, t);
  return out;
}

}  // namespace

NormalizedExperts::NormalizedExperts(std::unique_ptr<Experts> inner) : inner_(std::move(inner)) {}

void NormalizedExperts::forward(const Tensor& y, std::unique_ptr<ExpertState>& saved,
                                const Tensor& x, const ExpertSegments& segments) {
  auto s = std::make_unique<NormalizedState>();
  const int64_t m = x.rows(), w = x.cols();
  const Device dev = x.device();
  if (!ones_.defined() || ones_.numel() != w) {
    ones_ = Tensor::empty({w}, DType::kF32, dev);
    ones_.fill(1.0);
    zeros_ = Tensor::zeros({w}, DType::kF32, dev);
  }
  s->x = as_f32(x);
  s->mean = Tensor::empty({m}, DType::kF32, dev);
  s->rstd = Tensor::empty({m}, DType::kF32, dev);
  Tensor xn = Tensor::empty({m, w}, DType::kF32, dev);
  layernorm_forward(xn, s->mean, s->rstd, s->x, ones_, zeros_, kEps);
  Tensor in = xn;
  if (x.dtype() != DType::kF32) {  // the payload dtype the experts take
    in = Tensor::empty(x.shape(), x.dtype(), dev);
    cast(in, xn);
  }
  inner_->forward(y, s->inner, in, segments);
  saved = std::move(s);
}

void NormalizedExperts::backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                                      const ExpertSegments& segments) {
  auto& s = static_cast<NormalizedState&>(saved);
  const Device dev = dy.device();
  Tensor dxn = Tensor::empty(dx.shape(), dx.dtype(), dev);
  inner_->backward_data(dxn, *s.inner, dy, segments);
  Tensor din = Tensor::empty(s.x.shape(), DType::kF32, dev);
  Tensor dgamma = Tensor::zeros({s.x.cols()}, DType::kF32, dev);  // of the fixed affine: unused
  Tensor dbeta = Tensor::zeros({s.x.cols()}, DType::kF32, dev);
  layernorm_backward(din, dgamma, dbeta, as_f32(dxn), s.x, s.mean, s.rstd, ones_);
  if (dx.dtype() == DType::kF32)
    dx.copy_from(din);
  else
    cast(dx, din);
}

void NormalizedExperts::backward_weights(const ExpertState& saved, const Tensor& dy,
                                         const ExpertSegments& segments) {
  inner_->backward_weights(*static_cast<const NormalizedState&>(saved).inner, dy, segments);
}

}  // namespace sy
