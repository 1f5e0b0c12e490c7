#include "experts/sgu_experts.h"

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

SguExperts::SguExperts(const std::string& name, int64_t seq_len, int64_t channels, int first,
                       int local, uint64_t seed, Device device)
    : t_(seq_len),
      c_(channels),
      local_(local),
      w_(name + ".experts.spatial_w", {local, seq_len, seq_len}, device, true),
      b_(name + ".experts.spatial_b", {local, seq_len}, device, true) {
  const int64_t per = seq_len * seq_len;
  for (int le = 0; le < local; ++le)
    fill_uniform(w_.value.slice_rows(le, le + 1), seed, stream_id(w_.name.c_str()),
                 1e-3f / static_cast<float>(seq_len), static_cast<uint64_t>(first + le) * per);
  b_.value.fill(1.0);
}

namespace {
// An expert's m items side by side: (m, T, c) → (T, m·c), so one GEMM mixes them all along T.
Tensor side_by_side(const Tensor& rows, int64_t m, int64_t t, int64_t c) {
  Tensor out = Tensor::empty({t, m, c}, DType::kF32, rows.device());
  permute(out, rows.reshape({m, t, c}), {1, 0, 2});
  return out.reshape({t, m * c});
}
}  // namespace

void SguExperts::forward(ExpertActivations& saved, const Tensor& y, const Tensor& x,
                         const std::vector<int64_t>& offsets, int lb, int le) {
  Device d = x.device();
  saved.x = x;
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], m = offsets[l - lb + 1] - a;
    if (m == 0) continue;
    Tensor w_eff = Tensor::empty({t_, t_}, DType::kF32, d);
    causal_mask(w_eff, w_.value.slice_rows(l, l + 1).reshape({t_, t_}));
    Tensor yt = Tensor::empty({t_, m * c_}, DType::kF32, d);
    gemm(yt, w_eff, side_by_side(x.slice_rows(a, a + m), m, t_, c_), false, false, 1.0f, 0.0f);
    add_row_bias(yt, b_.value.slice_rows(l, l + 1).reshape({t_}));
    permute(y.slice_rows(a, a + m).reshape({m, t_, c_}), yt.reshape({t_, m, c_}), {1, 0, 2});
  }
}

void SguExperts::backward_data(const Tensor& dx, const Tensor& dy, ExpertActivations&,
                               const std::vector<int64_t>& offsets, int lb, int le) {
  Device d = dy.device();
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], m = offsets[l - lb + 1] - a;
    if (m == 0) continue;
    Tensor w_eff = Tensor::empty({t_, t_}, DType::kF32, d);
    causal_mask(w_eff, w_.value.slice_rows(l, l + 1).reshape({t_, t_}));
    Tensor dxt = Tensor::empty({t_, m * c_}, DType::kF32, d);  // W_effᵀ · dY
    gemm(dxt, w_eff, side_by_side(dy.slice_rows(a, a + m), m, t_, c_), true, false, 1.0f, 0.0f);
    permute(dx.slice_rows(a, a + m).reshape({m, t_, c_}), dxt.reshape({t_, m, c_}), {1, 0, 2});
  }
}

void SguExperts::backward_weights(const Tensor& dy, const ExpertActivations& saved,
                                  const std::vector<int64_t>& offsets, int lb, int le) {
  Device d = dy.device();
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], m = offsets[l - lb + 1] - a;
    if (m == 0) continue;
    Tensor dym = side_by_side(dy.slice_rows(a, a + m), m, t_, c_);
    Tensor db = Tensor::empty({t_}, DType::kF32, d);  // Σ over the items' columns
    reduce_rows(db, dym, ReduceOp::kSum);
    add_scaled(b_.grad.slice_rows(l, l + 1).reshape({t_}), db, 1.0f);
    Tensor dw = Tensor::empty({t_, t_}, DType::kF32, d);  // dY · Xᵀ, lower triangle only
    gemm(dw, dym, side_by_side(saved.x.slice_rows(a, a + m), m, t_, c_), false, true, 1.0f, 0.0f);
    causal_mask(dw, dw);
    add_scaled(w_.grad.slice_rows(l, l + 1).reshape({t_, t_}), dw, 1.0f);
  }
}

}  // namespace sy
