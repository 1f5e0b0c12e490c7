#include "experts/structured_experts.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"

namespace sy {

StructuredExperts::StructuredExperts(const MoeOptions& o, int width, int first, int local,
                                     Device device)
    : kind_(o.expert), width_(width), hidden_(o.hidden()) {
  const std::string base = o.name + ".experts.";
  if (kind_ == pb::BLOCKDIAG) {
    const int64_t nb = o.monarch_blocks;
    SY_CHECK(nb >= 1 && width % nb == 0 && hidden_ % nb == 0,
             "BLOCKDIAG experts of '" << o.name << "': monarch_blocks = " << nb
                                      << " must divide the item width " << width
                                      << " and the expert width " << hidden_);
    p_.emplace_back(base + "bd_w1", Shape{local, nb, hidden_ / nb, width / nb}, device, true);
    p_.emplace_back(base + "bd_w2", Shape{local, nb, width / nb, hidden_ / nb}, device, true);
  } else {
    SY_CHECK(kind_ == pb::MONARCH, "StructuredExperts: kind must be BLOCKDIAG or MONARCH");
    hidden_ = width;
    for (int64_t dv = 1; dv * dv <= width; ++dv)
      if (width % dv == 0) b1_ = dv;
    b2_ = width / b1_;
    for (const char* m : {"m1", "m2"}) {
      p_.emplace_back(base + m + "_l", Shape{local, b2_, b1_, b1_}, device, true);
      p_.emplace_back(base + m + "_r", Shape{local, b1_, b2_, b2_}, device, true);
    }
  }
  // Per global expert from the counter RNG, with each factor's fan-in.
  for (Param& p : p_) {
    const int64_t per = p.value.numel() / std::max(local, 1);
    const float scale = 1.0f / std::sqrt(static_cast<float>(p.value.dim(-1)));
    for (int l = 0; l < local; ++l)
      fill_normal(p.value.slice_rows(l, l + 1), o.seed, stream_id(p.name.c_str()), scale,
                  static_cast<uint64_t>(first + l) * per);
  }
}

std::vector<Param*> StructuredExperts::params() {
  std::vector<Param*> out;
  for (Param& p : p_) out.push_back(&p);
  return out;
}

double StructuredExperts::forward_flops(int64_t m) const {
  if (kind_ == pb::BLOCKDIAG) return 2.0 * 2.0 * m * width_ * hidden_ / p_[0].value.dim(1);
  return 2.0 * 2.0 * m * width_ * (b1_ + b2_);
}

void StructuredExperts::project(int which, int l, const Tensor& y, const Tensor& x) {
  auto factor = [&](int i) {
    Tensor v = p_[i].value.slice_rows(l, l + 1);
    Shape s(v.shape().begin() + 1, v.shape().end());
    return v.reshape(s);
  };
  if (kind_ == pb::BLOCKDIAG)
    block_diag_forward(y, x, factor(which));
  else
    monarch_forward(y, x, factor(2 * which), factor(2 * which + 1));
}

void StructuredExperts::project_backward(int which, int l, const Tensor& dx, const Tensor& dy,
                                         const Tensor& x) {
  auto slice = [&](Tensor t) {
    Tensor v = t.slice_rows(l, l + 1);
    Shape s(v.shape().begin() + 1, v.shape().end());
    return v.reshape(s);
  };
  if (kind_ == pb::BLOCKDIAG) {
    block_diag_backward(dx, slice(p_[which].grad), dy, x, slice(p_[which].value));
  } else {
    monarch_backward(dx, slice(p_[2 * which].grad), slice(p_[2 * which + 1].grad), dy, x,
                     slice(p_[2 * which].value), slice(p_[2 * which + 1].value));
  }
}

void StructuredExperts::forward(ExpertActivations& saved, const Tensor& y, const Tensor& x,
                                const std::vector<int64_t>& offsets, int lb, int le) {
  const int64_t m = x.dim(0);
  Device d = x.device();
  saved.x = x;
  saved.h = Tensor::empty({m, hidden_}, DType::kF32, d);
  saved.a = Tensor::empty({m, hidden_}, DType::kF32, d);
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], e = offsets[l - lb + 1];
    if (a == e) continue;
    project(0, l, saved.h.slice_rows(a, e), x.slice_rows(a, e));
  }
  activation_forward(saved.a, saved.h, Activation::kGelu);
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], e = offsets[l - lb + 1];
    if (a == e) continue;
    project(1, l, y.slice_rows(a, e), saved.a.slice_rows(a, e));
  }
}

void StructuredExperts::backward_data(const Tensor& dx, const Tensor& dy, ExpertActivations& saved,
                                      const std::vector<int64_t>& offsets, int lb, int le) {
  const int64_t m = dy.dim(0);
  Device d = dy.device();
  Tensor da = Tensor::empty({m, hidden_}, DType::kF32, d),
         dh = Tensor::empty({m, hidden_}, DType::kF32, d);
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], e = offsets[l - lb + 1];
    if (a == e) continue;
    project_backward(1, l, da.slice_rows(a, e), dy.slice_rows(a, e), saved.a.slice_rows(a, e));
  }
  activation_backward(dh, saved.h, da, Activation::kGelu);
  for (int l = lb; l < le; ++l) {
    const int64_t a = offsets[l - lb], e = offsets[l - lb + 1];
    if (a == e) continue;
    project_backward(0, l, dx.slice_rows(a, e), dh.slice_rows(a, e), saved.x.slice_rows(a, e));
  }
}

}  // namespace sy
