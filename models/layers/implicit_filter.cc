#include "models/layers/implicit_filter.h"

#include <cmath>

#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

Tensor empty(const Shape& s, Device d) {
  return Tensor::empty(s, DType::kF32, d);
}

// z(t) for the rows t = 0 … T−1, or T−1 … 0 when reversed (the anticausal half's rows).
std::vector<float> positional_features(int64_t t_len, int features, bool reversed) {
  const int bands = (features - 1) / 2;
  std::vector<float> z(static_cast<size_t>(t_len * features));
  for (int64_t r = 0; r < t_len; ++r) {
    const int64_t t = reversed ? t_len - 1 - r : r;
    float* row = &z[static_cast<size_t>(r * features)];
    row[0] = t_len > 1 ? static_cast<float>(t) / static_cast<float>(t_len - 1) : 0.0f;
    const double w = 2.0 * M_PI * static_cast<double>(t) / static_cast<double>(t_len);
    for (int b = 0; b < bands; ++b) {
      const double f = bands > 1 ? 1e-4 + b * (bands - 1 - 1e-4) / (bands - 1) : 1e-4;
      row[1 + b] = static_cast<float>(std::cos(f * w));
      row[1 + bands + b] = static_cast<float>(-std::sin(f * w));
    }
  }
  return z;
}

// The decay window of `halves` halves of T rows (the second one reversed), C columns.
std::vector<float> decay_window(int64_t t_len, int64_t channels, int halves) {
  const double fast = std::log(1e-2) / 0.3, slow = std::log(1e-2) / 1.5;
  std::vector<float> w(static_cast<size_t>(halves * t_len * channels));
  for (int h = 0; h < halves; ++h)
    for (int64_t r = 0; r < t_len; ++r) {
      const int64_t t = h == 0 ? r : t_len - 1 - r;
      const double tt = t_len > 1 ? static_cast<double>(t) / static_cast<double>(t_len - 1) : 0;
      for (int64_t c = 0; c < channels; ++c) {
        const double delta =
            channels > 1 ? slow + (fast - slow) * c / static_cast<double>(channels - 1) : slow;
        w[static_cast<size_t>((h * t_len + r) * channels + c)] =
            static_cast<float>(std::exp(-tt * std::abs(delta)));
      }
    }
  return w;
}

}  // namespace

ImplicitFilter::ImplicitFilter(const std::string& name, int64_t channels, int64_t seq_len,
                               const ImplicitFilterOptions& o, uint64_t seed, Device device)
    : t_(seq_len), o_(o), freq_(name + ".freq", {o.width}, device) {
  SY_CHECK(o.features >= 3 && o.features % 2 == 1 && o.width >= 1 && o.inner_layers >= 0,
           "implicit filter '" << name << "': positional features must be odd and ≥ 3 and the "
                               << "width ≥ 1 (got " << o.features << ", " << o.width << ")");
  freq_.value.fill(o.frequency);
  const int halves = o.bidirectional ? 2 : 1;
  for (int h = 0; h < halves; ++h) {
    const std::string n = name + (h == 0 ? ".fwd" : ".rev");
    Mlp m;
    // PyTorch's default Linear initialisation has variance 1/(3·in); ours draws normals with it.
    const float scale = 1.0f / std::sqrt(3.0f);
    m.layers.emplace_back(n + ".l0", o.features, o.width, true, seed, device, scale);
    for (int l = 1; l <= o.inner_layers; ++l)
      m.layers.emplace_back(n + ".l" + std::to_string(l), o.width, o.width, true, seed, device,
                            scale);
    m.layers.emplace_back(n + ".out", o.width, channels, false, seed, device, scale);
    for (size_t l = 0; l + 1 < m.layers.size(); ++l) {
      Param& b = *m.layers[l].params()[1];
      fill_normal(b.value, seed, stream_id(b.name.c_str()),
                  scale / std::sqrt(float(m.layers[l].weight().value.dim(0))));
    }
    mlps_.push_back(std::move(m));
    features_.push_back(
        Tensor::from_vector(positional_features(t_, o.features, h == 1), {t_, o.features}, device));
  }
  window_ =
      Tensor::from_vector(decay_window(t_, channels, halves), {halves * t_, channels}, device);
  for (Param* p : params()) p->keep_fp32 = true;  // the long convolution runs in fp32
}

std::vector<Param*> ImplicitFilter::params() {
  std::vector<Param*> p{&freq_};
  for (Mlp& m : mlps_)
    for (Linear& l : m.layers)
      for (Param* q : l.params()) p.push_back(q);
  return p;
}

void ImplicitFilter::forward(const Tensor& kernel) {
  for (size_t i = 0; i < mlps_.size(); ++i)
    mlp_forward(mlps_[i], kernel.slice_rows(i * t_, (i + 1) * t_), features_[i]);
  mul(kernel, kernel, window_);
}

void ImplicitFilter::backward(const Tensor& dkernel) {
  Tensor dh = empty(dkernel.shape(), dkernel.device());
  mul(dh, dkernel, window_);
  for (size_t i = 0; i < mlps_.size(); ++i)
    mlp_backward(mlps_[i], dh.slice_rows(i * t_, (i + 1) * t_));
}

void ImplicitFilter::mlp_forward(Mlp& m, const Tensor& h, const Tensor& z) {
  Tensor a = z;
  m.pre.clear();
  for (size_t l = 0; l + 1 < m.layers.size(); ++l) {
    Tensor u = empty({t_, o_.width}, z.device()), s = empty({t_, o_.width}, z.device());
    m.layers[l].forward(u, a);
    sine_forward(s, u, freq_.value);
    m.pre.push_back(u);
    a = s;
  }
  m.layers.back().forward(h, a);
}

void ImplicitFilter::mlp_backward(Mlp& m, const Tensor& dh) {
  const Device dev = dh.device();
  Tensor da = empty({t_, o_.width}, dev);
  m.layers.back().backward(da, dh);
  Tensor df = empty({o_.width}, dev);
  for (size_t l = m.pre.size(); l-- > 0;) {
    Tensor du = empty({t_, o_.width}, dev), dfx = empty({t_, o_.width}, dev);
    sine_backward(du, dfx, m.pre[l], da, freq_.value);
    reduce_cols(df, dfx, ReduceOp::kSum);
    add_scaled(freq_.grad, df, 1.0f);
    Tensor dprev = l > 0 ? empty({t_, o_.width}, dev) : Tensor();  // z is fixed: no dz
    m.layers[l].backward(dprev, du);
    da = dprev;
  }
}

void ImplicitFilter::drop_activations() {
  for (Mlp& m : mlps_) {
    for (Linear& l : m.layers) l.drop_activations();
    m.pre.clear();
  }
}

}  // namespace sy
