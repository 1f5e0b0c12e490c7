#include "experts/expert_ffn.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

ExpertFFN::ExpertFFN(const MoeOptions& o, int width, int first_expert, int local_experts,
                     Device device)
    : kind_(o.expert),
      width_(width),
      hidden_(o.hidden()),
      local_(local_experts),
      w1_(o.name + ".experts.w1",
          {local_experts, width, (o.expert == pb::SWIGLU ? 2 : 1) * o.hidden()}, device, true),
      w2_(o.name + ".experts.w2", {local_experts, o.hidden(), width}, device, true) {
  SY_CHECK(kind_ == pb::FFN_GELU || kind_ == pb::SWIGLU,
           "expert kind " << pb::ExpertKind_Name(kind_)
                          << " is not available in this layer yet; use FFN_GELU or SWIGLU");
  int64_t per1 = w1_.value.numel() / std::max(local_experts, 1);
  int64_t per2 = w2_.value.numel() / std::max(local_experts, 1);
  for (int le = 0; le < local_experts; ++le) {
    uint64_t e = static_cast<uint64_t>(first_expert + le);
    fill_normal(w1_.value.slice_rows(le, le + 1), o.seed, stream_id(w1_.name.c_str()),
                1.0f / std::sqrt(float(width)), e * per1);
    fill_normal(w2_.value.slice_rows(le, le + 1), o.seed, stream_id(w2_.name.c_str()),
                1.0f / std::sqrt(float(hidden_)), e * per2);
  }
}

void ExpertFFN::forward(ExpertActivations& saved, const Tensor& y, const Tensor& x,
                        const std::vector<int64_t>& offsets, int lb, int le) {
  int64_t m = x.dim(0);
  Device d = x.device();
  saved.x = x;
  saved.h = Tensor::empty({m, w1_.value.dim(2)}, DType::kF32, d);
  saved.a = Tensor::empty({m, hidden_}, DType::kF32, d);
  grouped_gemm(saved.h, x, w1_.value.slice_rows(lb, le), offsets, false, 1.0f, 0.0f);
  if (kind_ == pb::SWIGLU)
    swiglu_forward(saved.a, saved.h);
  else
    activation_forward(saved.a, saved.h, Activation::kGelu);
  grouped_gemm(y, saved.a, w2_.value.slice_rows(lb, le), offsets, false, 1.0f, 0.0f);
}

void ExpertFFN::backward_data(const Tensor& dx, const Tensor& dy, ExpertActivations& saved,
                              const std::vector<int64_t>& offsets, int lb, int le) {
  int64_t m = dy.dim(0);
  Device d = dy.device();
  // da = dy · W2ᵀ ; dh = act'(h) ⊙ da ; dx = dh · W1ᵀ
  Tensor da = Tensor::empty({m, hidden_}, DType::kF32, d);
  grouped_gemm(da, dy, w2_.value.slice_rows(lb, le), offsets, true, 1.0f, 0.0f);
  saved.dh = Tensor::empty(saved.h.shape(), DType::kF32, d);
  if (kind_ == pb::SWIGLU)
    swiglu_backward(saved.dh, saved.h, da);
  else
    activation_backward(saved.dh, saved.h, da, Activation::kGelu);
  grouped_gemm(dx, saved.dh, w1_.value.slice_rows(lb, le), offsets, true, 1.0f, 0.0f);
}

void ExpertFFN::backward_weights(const Tensor& dy, const ExpertActivations& saved,
                                 const std::vector<int64_t>& offsets, int lb, int le) {
  // dW2 += aᵀ · dy ; dW1 += xᵀ · dh — one GEMM per expert over all of its rows.
  grouped_gemm_weight_grad(w2_.grad.slice_rows(lb, le), saved.a, dy, offsets, 1.0f, 1.0f);
  grouped_gemm_weight_grad(w1_.grad.slice_rows(lb, le), saved.x, saved.dh, offsets, 1.0f, 1.0f);
}

double ExpertFFN::forward_flops(int64_t m) const {
  double up = static_cast<double>(w1_.value.dim(2));
  return 2.0 * m * width_ * up + 2.0 * m * hidden_ * width_;
}

}  // namespace sy
