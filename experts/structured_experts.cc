#include "experts/structured_experts.h"

#include <cmath>

#include "experts/expert_cost.h"
#include "runtime/core/random.h"
#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

struct StructuredState final : ExpertState {
  Tensor x, h, a;  // (M, w) input, (M, F) hidden pre-activation and activation
};

}  // namespace

StructuredExperts::StructuredExperts(const MoeOptions& o, int width, ExpertRange range,
                                     Device device)
    : kind_(o.expert),
      gelu_(o.gelu),
      width_(width),
      hidden_(o.hidden()),
      flops_per_item_(expert_flops_per_item(o, width)) {
  const int local = range.count, first = range.first;
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
    b1_ = monarch_b1(width);
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
  return static_cast<double>(m) * flops_per_item_;
}

void StructuredExperts::project(int which, int l, const Tensor& y, const Tensor& x) {
  auto factor = [&](int i) {
    Tensor v = p_[i].compute().slice_rows(l, l + 1);
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
    block_diag_backward(dx, slice(p_[which].grad), dy, x, slice(p_[which].compute()));
  } else {
    monarch_backward(dx, slice(p_[2 * which].grad), slice(p_[2 * which + 1].grad), dy, x,
                     slice(p_[2 * which].compute()), slice(p_[2 * which + 1].compute()));
  }
}

void StructuredExperts::forward(const Tensor& y, std::unique_ptr<ExpertState>& saved,
                                const Tensor& x, const ExpertSegments& seg) {
  const int64_t m = x.dim(0);
  Device d = x.device();
  auto s = std::make_unique<StructuredState>();
  s->x = x;
  s->h = Tensor::empty({m, hidden_}, x.dtype(), d);  // the payload's dtype throughout
  s->a = Tensor::empty({m, hidden_}, x.dtype(), d);
  seg.for_each([&](int l, int64_t a, int64_t e) {
    project(0, l, s->h.slice_rows(a, e), x.slice_rows(a, e));
  });
  activation_forward(s->a, s->h, gelu_);
  seg.for_each([&](int l, int64_t a, int64_t e) {
    project(1, l, y.slice_rows(a, e), s->a.slice_rows(a, e));
  });
  saved = std::move(s);
}

void StructuredExperts::backward_data(const Tensor& dx, ExpertState& saved, const Tensor& dy,
                                      const ExpertSegments& seg) {
  auto& s = static_cast<StructuredState&>(saved);
  const int64_t m = dy.dim(0);
  Device d = dy.device();
  Tensor da = Tensor::empty({m, hidden_}, dy.dtype(), d),
         dh = Tensor::empty({m, hidden_}, dy.dtype(), d);
  seg.for_each([&](int l, int64_t a, int64_t e) {
    project_backward(1, l, da.slice_rows(a, e), dy.slice_rows(a, e), s.a.slice_rows(a, e));
  });
  activation_backward(dh, s.h, da, gelu_);
  seg.for_each([&](int l, int64_t a, int64_t e) {
    project_backward(0, l, dx.slice_rows(a, e), dh.slice_rows(a, e), s.x.slice_rows(a, e));
  });
}

}  // namespace sy
