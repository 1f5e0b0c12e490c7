#include "runtime/ops/long_conv.h"

#include <cmath>
#include <map>
#include <mutex>
#include <tuple>

#include "runtime/ops/monarch.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

struct DftFactors {
  Tensor l_re, l_im, r_re, r_im;
};

// The DFT factors for (N, direction, device), built once.
const DftFactors& dft_factors(int64_t n, bool inverse, Device device) {
  static std::map<std::tuple<int64_t, bool, int, int>, DftFactors> cache;
  static std::mutex mu;
  std::lock_guard<std::mutex> lock(mu);
  auto key = std::make_tuple(n, inverse, static_cast<int>(device.type), device.index);
  auto it = cache.find(key);
  if (it != cache.end()) return it->second;
  const int64_t b1 = monarch_b1(n), b2 = n / b1;
  DftFactors host{
      Tensor::empty({b2, b1, b1}, DType::kF32), Tensor::empty({b2, b1, b1}, DType::kF32),
      Tensor::empty({b1, b2, b2}, DType::kF32), Tensor::empty({b1, b2, b2}, DType::kF32)};
  dft_monarch_factors(host.l_re, host.l_im, host.r_re, host.r_im, b1, b2, inverse);
  DftFactors f{host.l_re.to(device), host.l_im.to(device), host.r_re.to(device),
               host.r_im.to(device)};
  return cache.emplace(key, f).first->second;
}

void dft(const Tensor& o_re, const Tensor& o_im, const Tensor& i_re, const Tensor& i_im,
         bool inverse, Stream s) {
  const DftFactors& f = dft_factors(i_re.cols(), inverse, i_re.device());
  complex_monarch_forward(o_re, o_im, i_re, i_im, f.l_re, f.l_im, f.r_re, f.r_im, s);
}

Tensor zeros(const Shape& shape, Device d) {
  return Tensor::zeros(shape, DType::kF32, d);
}

// (R, T) → (R, 2T) = [x | 0].
Tensor pad(const Tensor& x, Stream s) {
  const int64_t r = x.rows(), t = x.cols();
  Tensor planes = zeros({2, r, t}, x.device());
  planes.slice_rows(0, 1).reshape({r, t}).copy_from(x, s);
  Tensor out = Tensor::empty({r, 2 * t}, DType::kF32, x.device());
  permute(out.reshape({r, 2, t}), planes, {1, 0, 2}, s);
  return out;
}

// The first T columns of (R, 2T), scaled, into out (R, T).
void unpad(const Tensor& out, const Tensor& full, float scale, Stream s) {
  const int64_t r = out.rows(), t = out.cols();
  Tensor planes = Tensor::empty({2, r, t}, DType::kF32, full.device());
  permute(planes, full.reshape({r, 2, t}), {1, 0, 2}, s);
  out.copy_from(planes.slice_rows(0, 1).reshape({r, t}), s);
  scale_inplace(out, scale, s);
}

// DFT of a real (R, T) signal padded to 2T.
void dft_padded(Tensor& re, Tensor& im, const Tensor& x, Stream s) {
  const int64_t r = x.rows(), n = 2 * x.cols();
  re = Tensor::empty({r, n}, DType::kF32, x.device());
  im = Tensor::empty({r, n}, DType::kF32, x.device());
  dft(re, im, pad(x, s), zeros({r, n}, x.device()), false, s);
}

// out (R, T) = first T of Re(IDFT(a)) / N.
void idft_real(const Tensor& out, const Tensor& a_re, const Tensor& a_im, Stream s) {
  const int64_t r = a_re.rows(), n = a_re.cols();
  Tensor y_re = Tensor::empty({r, n}, DType::kF32, a_re.device());
  Tensor y_im = Tensor::empty({r, n}, DType::kF32, a_re.device());
  dft(y_re, y_im, a_re, a_im, true, s);
  unpad(out, y_re, 1.0f / static_cast<float>(n), s);
}

void check(const Tensor& x, const Tensor& k) {
  SY_CHECK(x.ndim() == 2 && k.ndim() == 2 && (k.cols() == x.cols() || k.cols() == 2 * x.cols()) &&
               k.rows() >= 1 && x.rows() % k.rows() == 0,
           "long_conv: x must be (R, T) and k (C, T) — or (C, 2T) for a bidirectional kernel — "
           "with C dividing R; got "
               << shape_str(x.shape()) << " and " << shape_str(k.shape()));
}

// The kernel's transform: padded to 2T when causal, as it is when bidirectional (already 2T).
void dft_kernel(Tensor& re, Tensor& im, const Tensor& k, int64_t t, Stream s) {
  if (k.cols() == t) {
    dft_padded(re, im, k, s);
    return;
  }
  re = Tensor::empty(k.shape(), DType::kF32, k.device());
  im = Tensor::empty(k.shape(), DType::kF32, k.device());
  dft(re, im, k, zeros(k.shape(), k.device()), false, s);
}

}  // namespace

void long_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k, Stream s) {
  check(x, k);
  Tensor xr, xi, kr, ki;
  dft_padded(xr, xi, x, s);
  dft_kernel(kr, ki, k, x.cols(), s);
  complex_mul_rows(xr, xi, xr, xi, kr, ki, false, s);
  idft_real(y, xr, xi, s);
}

void long_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy, const Tensor& x,
                        const Tensor& k, Stream s) {
  check(x, k);
  const int64_t rows = x.rows(), c = k.rows(), t = x.cols(), n = 2 * t;
  Tensor gr, gi, kr, ki, xr, xi;
  dft_padded(gr, gi, dy, s);
  dft_kernel(kr, ki, k, t, s);
  dft_padded(xr, xi, x, s);
  // dx = correlation of dy with k: IDFT(DY · conj(K)).
  Tensor pr = Tensor::empty({rows, n}, DType::kF32, x.device());
  Tensor pi = Tensor::empty({rows, n}, DType::kF32, x.device());
  complex_mul_rows(pr, pi, gr, gi, kr, ki, true, s);
  idft_real(dx, pr, pi, s);
  // dk[c] = Σ over the rows of channel c of the correlation of dy with x: IDFT(Σ DY · conj(X)).
  complex_mul_rows(pr, pi, gr, gi, xr, xi, true, s);
  Tensor sr = Tensor::empty({c * n}, DType::kF32, x.device());
  Tensor si = Tensor::empty({c * n}, DType::kF32, x.device());
  reduce_cols(sr, pr.reshape({rows / c, c * n}), ReduceOp::kSum, s);
  reduce_cols(si, pi.reshape({rows / c, c * n}), ReduceOp::kSum, s);
  if (k.cols() == t) {
    Tensor g = Tensor::empty({c, t}, DType::kF32, x.device());
    idft_real(g, sr.reshape({c, n}), si.reshape({c, n}), s);
    add_scaled(dk, g, 1.0f, s);
    return;
  }
  // Bidirectional: every lag of the circular 2T kernel has a gradient.
  Tensor g_re = Tensor::empty({c, n}, DType::kF32, x.device());
  Tensor g_im = Tensor::empty({c, n}, DType::kF32, x.device());
  dft(g_re, g_im, sr.reshape({c, n}), si.reshape({c, n}), true, s);
  add_scaled(dk, g_re, 1.0f / static_cast<float>(n), s);
}

}  // namespace sy
