#include "experts/sgu_experts.h"

#include "runtime/core/random.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

SguExperts::SguExperts(const std::string& name, int64_t seq_len, int64_t channels,
                       ExpertRange range, uint64_t seed, Device device)
    : t_(seq_len),
      c_(channels),
      w_(name + ".experts.spatial_w", {range.count, seq_len, seq_len}, device, true),
      b_(name + ".experts.spatial_b", {range.count, seq_len}, device, true) {
  const int64_t per = seq_len * seq_len;
  for (int le = 0; le < range.count; ++le)
    fill_uniform(w_.value.slice_rows(le, le + 1), seed, stream_id(w_.name.c_str()),
                 1e-3f / static_cast<float>(seq_len),
                 static_cast<uint64_t>(range.first + le) * per);
  b_.value.fill(1.0);
}

namespace {

struct SguState final : ExpertState {
  Tensor x;  // (M, T·c) the expert-major input
};

// An expert's m items side by side: (m, T, c) → (T, m·c), so one GEMM mixes them all along T.
Tensor side_by_side(const Tensor& rows, int64_t m, int64_t t, int64_t c) {
  Tensor out = Tensor::empty({t, m, c}, rows.dtype(), rows.device());
  permute(out, rows.reshape({m, t, c}), {1, 0, 2});
  return out.reshape({t, m * c});
}

// The inverse: (T, m·c) → rows (m, T·c), in the rows' dtype (the payload's).
void to_rows(const Tensor& rows, const Tensor& cols, int64_t m, int64_t t, int64_t c) {
  permute(rows.reshape({m, t, c}), as_compute(cols, rows.dtype()).reshape({t, m, c}), {1, 0, 2});
}

}  // namespace

// Expert l's causal mixing weight in the compute dtype (bf16 in mixed precision).
Tensor SguExperts::masked_weight(int l) const {
  const Tensor& w = w_.compute();
  Tensor w_eff = Tensor::empty({t_, t_}, w.dtype(), w.device());  // the payload's dtype
  causal_mask(w_eff, w.slice_rows(l, l + 1).reshape({t_, t_}));
  return w_eff;
}

void SguExperts::forward(const Tensor& y, std::unique_ptr<ExpertState>& saved, const Tensor& x,
                         const ExpertSegments& seg) {
  Device d = x.device();
  auto s = std::make_unique<SguState>();
  s->x = x;
  seg.for_each([&](int l, int64_t a, int64_t e) {
    const int64_t m = e - a;
    Tensor yt = Tensor::empty({t_, m * c_}, DType::kF32, d);
    gemm(yt, masked_weight(l), side_by_side(x.slice_rows(a, e), m, t_, c_), false, false, 1.0f,
         0.0f);
    add_row_bias(yt, b_.value.slice_rows(l, l + 1).reshape({t_}));
    to_rows(y.slice_rows(a, e), yt, m, t_, c_);
  });
  saved = std::move(s);
}

void SguExperts::backward_data(const Tensor& dx, ExpertState&, const Tensor& dy,
                               const ExpertSegments& seg) {
  Device d = dy.device();
  seg.for_each([&](int l, int64_t a, int64_t e) {
    const int64_t m = e - a;
    Tensor dxt = Tensor::empty({t_, m * c_}, DType::kF32, d);  // W_effᵀ · dY
    gemm(dxt, masked_weight(l), side_by_side(dy.slice_rows(a, e), m, t_, c_), true, false, 1.0f,
         0.0f);
    to_rows(dx.slice_rows(a, e), dxt, m, t_, c_);
  });
}

void SguExperts::backward_weights(const ExpertState& saved, const Tensor& dy,
                                  const ExpertSegments& seg) {
  const auto& s = static_cast<const SguState&>(saved);
  Device d = dy.device();
  seg.for_each([&](int l, int64_t a, int64_t e) {
    const int64_t m = e - a;
    Tensor dym = side_by_side(dy.slice_rows(a, e), m, t_, c_);
    Tensor db = Tensor::empty({t_}, DType::kF32, d);  // Σ over the items' columns
    reduce_rows(db, as_compute(dym, DType::kF32), ReduceOp::kSum);
    add_scaled(b_.grad.slice_rows(l, l + 1).reshape({t_}), db, 1.0f);
    Tensor dw = Tensor::empty({t_, t_}, DType::kF32, d);  // dY · Xᵀ, lower triangle only
    gemm(dw, dym, side_by_side(s.x.slice_rows(a, e), m, t_, c_), false, true, 1.0f, 0.0f);
    causal_mask(dw, dw);
    add_scaled(w_.grad.slice_rows(l, l + 1).reshape({t_, t_}), dw, 1.0f);
  });
}

}  // namespace sy
