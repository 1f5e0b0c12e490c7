#include "experts/ffn_experts.h"

#include <cmath>

#include "experts/expert_cost.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

struct FfnState final : ExpertState {
  Tensor x;   // (M, w) the expert-major input
  Tensor h;   // (M, F or 2F) hidden pre-activation
  Tensor a;   // (M, F) hidden activation
  Tensor dh;  // set by backward_data for backward_weights
};

}  // namespace

FfnExperts::FfnExperts(const MoeOptions& o, int width, ExpertRange range, Device device)
    : kind_(o.expert),
      gelu_(o.gelu),
      width_(width),
      hidden_(o.hidden()),
      flops_per_item_(expert_flops_per_item(o, width)),
      w1_(o.name + ".experts.w1",
          {range.count, width, (o.expert == pb::SWIGLU ? 2 : 1) * o.hidden()}, device, true),
      w2_(o.name + ".experts.w2", {range.count, o.hidden(), width}, device, true),
      bias_(o.expert_bias) {
  if (bias_) {
    b1_ = Param(o.name + ".experts.b1", {range.count, w1_.value.dim(2)}, device, true);
    b2_ = Param(o.name + ".experts.b2", {range.count, width}, device, true);
    b1_.no_weight_decay = b2_.no_weight_decay = true;
    b1_.keep_fp32 = b2_.keep_fp32 = true;  // added in fp32, never a GEMM operand
  }
  SY_CHECK(kind_ == pb::FFN_GELU || kind_ == pb::SWIGLU, "FfnExperts: kind "
                                                             << pb::ExpertKind_Name(kind_)
                                                             << " is not an FFN; use FFN_GELU or "
                                                                "SWIGLU");
  int64_t per1 = w1_.value.numel() / std::max(range.count, 1);
  int64_t per2 = w2_.value.numel() / std::max(range.count, 1);
  for (int le = 0; le < range.count; ++le) {
    uint64_t e = static_cast<uint64_t>(range.first + le);
    fill_normal(w1_.value.slice_rows(le, le + 1), o.seed, stream_id(w1_.name.c_str()),
                1.0f / std::sqrt(float(width)), e * per1);
    fill_normal(w2_.value.slice_rows(le, le + 1), o.seed, stream_id(w2_.name.c_str()),
                1.0f / std::sqrt(float(hidden_)), e * per2);
  }
  if (o.zero_output_init) w2_.value.fill(0.0);  // BASE's release: the FFN starts as the identity
}

void FfnExperts::forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
                         const ExpertSegments& seg) {
  int64_t m = x.dim(0);
  Device d = x.device();
  auto s = std::make_unique<FfnState>();
  // Every buffer in the payload's dtype (bf16 in mixed precision; the GEMMs accumulate in fp32).
  s->x = x;
  s->h = Tensor::empty({m, w1_.value.dim(2)}, x.dtype(), d);
  s->a = Tensor::empty({m, hidden_}, x.dtype(), d);
  grouped_gemm(s->h, x, w1_.compute().slice_rows(seg.first, seg.last), seg.offsets, false, 1.0f,
               0.0f);
  if (kind_ == pb::SWIGLU) {
    if (bias_) add_segment_bias(s->h, b1_, seg);
    swiglu_forward(s->a, s->h);
  } else if (bias_) {  // bias and activation in one pass over h, expert by expert
    seg.for_each([&](int l, int64_t begin, int64_t end) {
      bias_activation_forward(s->a.slice_rows(begin, end), s->h.slice_rows(begin, end),
                              b1_.value.slice_rows(l, l + 1), gelu_);
    });
  } else {
    activation_forward(s->a, s->h, gelu_);
  }
  grouped_gemm(y, s->a, w2_.compute().slice_rows(seg.first, seg.last), seg.offsets, false, 1.0f,
               0.0f);
  if (bias_) add_segment_bias(y, b2_, seg);
  saved = std::move(s);
}

void FfnExperts::backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                               const ExpertSegments& seg) {
  auto& s = static_cast<FfnState&>(saved);
  int64_t m = dy.dim(0);
  Device d = dy.device();
  // da = dy · W2ᵀ ; dh = act'(h) ⊙ da ; dx = dh · W1ᵀ
  Tensor da = Tensor::empty({m, hidden_}, dy.dtype(), d);
  grouped_gemm(da, dy, w2_.compute().slice_rows(seg.first, seg.last), seg.offsets, true, 1.0f,
               0.0f);
  if (kind_ == pb::SWIGLU) {
    s.dh = Tensor::empty(s.h.shape(), dy.dtype(), d);
    swiglu_backward(s.dh, s.h, da);
  } else {  // in place: one (M, F) buffer less to allocate and write
    activation_backward(da, s.h, da, gelu_);
    s.dh = da;
  }
  grouped_gemm(dx, s.dh, w1_.compute().slice_rows(seg.first, seg.last), seg.offsets, true, 1.0f,
               0.0f);
}

void FfnExperts::backward_weights(const ExpertState& saved, const Tensor& dy,
                                  const ExpertSegments& seg) {
  const auto& s = static_cast<const FfnState&>(saved);
  // dW2 += aᵀ · dy ; dW1 += xᵀ · dh — one GEMM per expert over all of its rows.
  grouped_gemm_weight_grad(w2_.grad.slice_rows(seg.first, seg.last), s.a, dy, seg.offsets, 1.0f,
                           1.0f);
  grouped_gemm_weight_grad(w1_.grad.slice_rows(seg.first, seg.last), s.x, s.dh, seg.offsets, 1.0f,
                           1.0f);
  if (bias_) {
    segment_bias_grad(b2_, dy, seg);
    segment_bias_grad(b1_, s.dh, seg);
  }
}

void FfnExperts::add_segment_bias(const Tensor& rows, const Param& b, const ExpertSegments& seg) {
  seg.for_each([&](int l, int64_t begin, int64_t end) {
    add_bias(rows.slice_rows(begin, end), b.value.slice_rows(l, l + 1));
  });
}

void FfnExperts::segment_bias_grad(const Param& b, const Tensor& drows, const ExpertSegments& seg) {
  Tensor rows = drows;
  if (rows.dtype() != DType::kF32) {  // bf16 gradients: widened once, summed in fp32
    rows = Tensor::empty(drows.shape(), DType::kF32, drows.device());
    cast(rows, drows);
  }
  Tensor sum = Tensor::empty({rows.cols()}, DType::kF32, rows.device());
  seg.for_each([&](int l, int64_t begin, int64_t end) {
    reduce_cols(sum, rows.slice_rows(begin, end), ReduceOp::kSum);
    add_scaled(b.grad.slice_rows(l, l + 1), sum, 1.0f);
  });
}

double FfnExperts::forward_flops(int64_t m) const {
  return static_cast<double>(m) * flops_per_item_;
}

}  // namespace sy
