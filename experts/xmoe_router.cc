// The X-MoE cosine gate (Chi et al. 2022): project the item to a low dimension (w → r), normalise,
// and score it against normalised expert embeddings: logits = cos(x·W_p, emb_e) / τ; then the same
// softmax top-k gate and losses as the top-k router. The projection runs on the device; the
// normalisation and the cosine scores on the host (S·E·r multiply-adds, small next to the experts).
#include <cmath>

#include "experts/router_factories.h"
#include "experts/router_projection.h"
#include "experts/softmax_gate.h"
#include "runtime/core/random.h"

namespace sy {

namespace {

class XMoeRouter final : public Router {
 public:
  XMoeRouter(const MoeOptions& o, int width, Device device)
      : r_(o.xmoe_dim),
        e_(o.num_experts),
        tau_(o.xmoe_temperature),
        proj_(o.name + ".router.proj", {width, o.xmoe_dim}, device),
        emb_(o.name + ".router.emb", {o.num_experts, o.xmoe_dim}, device),
        gate_(o.num_experts, o.top_k, o.renormalize, o.balance_coef, o.z_coef) {
    fill_normal(proj_.value, o.seed, stream_id(proj_.name.c_str()), 1.0f / std::sqrt(float(width)));
    fill_normal(emb_.value, o.seed, stream_id(emb_.name.c_str()), 1.0f);
  }

  void forward(Routing& out, const Tensor& x, const int32_t*, bool, Communicator& world) override {
    int64_t s_count = x.dim(0);
    z_ = project_to_host(x, proj_.value, false);  // (S, r)
    emb_host_ = emb_.value.to_vector<float>();    // (E, r)
    normalise(z_, zn_, znorm_, s_count);
    normalise(emb_host_, en_, enorm_, e_);
    std::vector<float> logits(static_cast<size_t>(s_count * e_));
    for (int64_t s = 0; s < s_count; ++s)
      for (int e = 0; e < e_; ++e) {
        float dot = 0;
        for (int i = 0; i < r_; ++i) dot += zn_[s * r_ + i] * en_[e * r_ + i];
        logits[s * e_ + e] = dot / tau_;
      }
    gate_.forward(out, logits, s_count, world);
  }

  void backward(const Tensor& dx, const std::vector<float>& dweight, const Tensor& x) override {
    int64_t s_count = x.dim(0);
    std::vector<float> dlogits;
    gate_.backward(dlogits, dweight);
    // logits = zn · enᵀ / τ.
    std::vector<float> dzn(static_cast<size_t>(s_count * r_), 0.0f),
        den(static_cast<size_t>(e_ * r_), 0.0f);
    for (int64_t s = 0; s < s_count; ++s)
      for (int e = 0; e < e_; ++e) {
        float g = dlogits[s * e_ + e] / tau_;
        for (int i = 0; i < r_; ++i) {
          dzn[s * r_ + i] += g * en_[e * r_ + i];
          den[e * r_ + i] += g * zn_[s * r_ + i];
        }
      }
    std::vector<float> dz, demb;
    normalise_backward(dz, dzn, zn_, znorm_, s_count);
    normalise_backward(demb, den, en_, enorm_, e_);
    project_backward(dx, proj_, x, dz, false);
    Tensor demb_t = Tensor::from_vector(demb, {e_, r_}).to(emb_.grad.device());
    add_scaled(emb_.grad, demb_t, 1.0f);
  }

  std::vector<Param*> params() override { return {&proj_, &emb_}; }

 private:
  // Row-wise L2 normalisation, with a floor on the norm so a zero row stays finite.
  void normalise(const std::vector<float>& v, std::vector<float>& out, std::vector<float>& norms,
                 int64_t rows) const {
    out.resize(v.size());
    norms.resize(static_cast<size_t>(rows));
    for (int64_t s = 0; s < rows; ++s) {
      double n2 = 0;
      for (int i = 0; i < r_; ++i) n2 += double(v[s * r_ + i]) * v[s * r_ + i];
      float n = std::max(static_cast<float>(std::sqrt(n2)), 1e-6f);
      norms[s] = n;
      for (int i = 0; i < r_; ++i) out[s * r_ + i] = v[s * r_ + i] / n;
    }
  }
  // d(v/|v|)/dv applied to g: (g − u (u·g)) / |v|, u = v/|v|.
  void normalise_backward(std::vector<float>& dv, const std::vector<float>& g,
                          const std::vector<float>& u, const std::vector<float>& norms,
                          int64_t rows) const {
    dv.resize(g.size());
    for (int64_t s = 0; s < rows; ++s) {
      float dot = 0;
      for (int i = 0; i < r_; ++i) dot += u[s * r_ + i] * g[s * r_ + i];
      for (int i = 0; i < r_; ++i)
        dv[s * r_ + i] = (g[s * r_ + i] - u[s * r_ + i] * dot) / norms[s];
    }
  }

  int r_, e_;
  float tau_;
  Param proj_;  // (w, r)
  Param emb_;   // (E, r)
  SoftmaxGate gate_;
  std::vector<float> z_, zn_, znorm_, emb_host_, en_, enorm_;
};

}  // namespace

std::unique_ptr<Router> make_xmoe_router(const MoeOptions& o, int width, Device device) {
  return std::make_unique<XMoeRouter>(o, width, device);
}

}  // namespace sy
