#include "runtime/ops/monarch.h"

#include <cmath>

#include "runtime/ops/ops.h"

namespace sy {

int64_t monarch_b1(int64_t n) {
  int64_t b1 = 1;
  for (int64_t d = 1; d * d <= n; ++d)
    if (n % d == 0) b1 = d;
  return b1;
}

namespace {

// Intermediates take the input's dtype: f32, or bf16 in mixed precision (the batched GEMMs
// accumulate in fp32 and round each intermediate once).
Tensor scratch(const Shape& s, const Tensor& like) {
  return Tensor::empty(s, like.dtype(), like.device());
}

// Block-diagonal product on blocks laid out (nb, R, k): out_i = in_i · w_iᵀ (w_i (n × k)).
void blocks_apply(const Tensor& out, const Tensor& in, const Tensor& w, bool transpose_w,
                  float beta, Stream s) {
  batched_gemm(out, in, w, false, !transpose_w, 1.0f, beta, s);
}

}  // namespace

void block_diag_forward(const Tensor& y, const Tensor& x, const Tensor& w, Stream s) {
  const int64_t r = x.rows(), nb = w.dim(0), bo = w.dim(1), bi = w.dim(2);
  SY_CHECK(x.cols() == nb * bi && y.cols() == nb * bo && y.rows() == r,
           "block_diag_forward: x (" << r << ", " << nb * bi << ") and y (" << r << ", " << nb * bo
                                     << ") do not fit w " << shape_str(w.shape()));
  Tensor xb = scratch({nb, r, bi}, x), yb = scratch({nb, r, bo}, x);
  permute(xb, x.reshape({r, nb, bi}), {1, 0, 2}, s);
  blocks_apply(yb, xb, w, false, 0.0f, s);
  permute(y.reshape({r, nb, bo}), yb, {1, 0, 2}, s);
}

void block_diag_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy, const Tensor& x,
                         const Tensor& w, Stream s) {
  const int64_t r = x.rows(), nb = w.dim(0), bo = w.dim(1), bi = w.dim(2);
  Tensor xb = scratch({nb, r, bi}, x), dyb = scratch({nb, r, bo}, x), dxb = scratch({nb, r, bi}, x);
  permute(xb, x.reshape({r, nb, bi}), {1, 0, 2}, s);
  permute(dyb, dy.reshape({r, nb, bo}), {1, 0, 2}, s);
  batched_gemm(dw, dyb, xb, true, false, 1.0f, 1.0f, s);   // dW_i += dY_iᵀ · X_i
  batched_gemm(dxb, dyb, w, false, false, 1.0f, 0.0f, s);  // dX_i = dY_i · W_i
  permute(dx.reshape({r, nb, bi}), dxb, {1, 0, 2}, s);
}

// The Monarch product as block-diagonal products on permuted views: with x (R, b1, b2),
//   t = x transposed to (b2 blocks, R, b1); u_j = t_j · L_jᵀ;  (P₀, BD(L))
//   v = u viewed (b2, R, b1) → (b1 blocks, R, b2); w_i = v_i · R_iᵀ;  (P₁, BD(R))
//   y (R, b2, b1) from w (b1, R, b2).  (P₂)
void monarch_forward(const Tensor& y, const Tensor& x, const Tensor& l, const Tensor& r, Stream s) {
  const int64_t rows = x.rows(), b2 = l.dim(0), b1 = l.dim(1);
  SY_CHECK(l.dim(2) == b1 && r.dim(0) == b1 && r.dim(1) == b2 && r.dim(2) == b2 &&
               x.cols() == b1 * b2 && y.cols() == b1 * b2,
           "monarch_forward: l must be (b2, b1, b1), r (b1, b2, b2) and x, y (R, b1·b2)");
  Tensor t = scratch({b2, rows, b1}, x), u = scratch({b2, rows, b1}, x);
  permute(t, x.reshape({rows, b1, b2}), {2, 0, 1}, s);
  blocks_apply(u, t, l, false, 0.0f, s);
  Tensor v = scratch({b1, rows, b2}, x), w = scratch({b1, rows, b2}, x);
  permute(v, u, {2, 1, 0}, s);
  blocks_apply(w, v, r, false, 0.0f, s);
  permute(y.reshape({rows, b2, b1}), w, {1, 2, 0}, s);
}

void monarch_backward(const Tensor& dx, const Tensor& dl, const Tensor& dr, const Tensor& dy,
                      const Tensor& x, const Tensor& l, const Tensor& r, Stream s) {
  const int64_t rows = x.rows(), b2 = l.dim(0), b1 = l.dim(1);
  // Recompute the intermediates (cheap: two permutes and one batched GEMM).
  Tensor t = scratch({b2, rows, b1}, x), u = scratch({b2, rows, b1}, x);
  permute(t, x.reshape({rows, b1, b2}), {2, 0, 1}, s);
  blocks_apply(u, t, l, false, 0.0f, s);
  Tensor v = scratch({b1, rows, b2}, x);
  permute(v, u, {2, 1, 0}, s);
  // Back through P₂ and BD(R).
  Tensor dw = scratch({b1, rows, b2}, x), dv = scratch({b1, rows, b2}, x);
  permute(dw, dy.reshape({rows, b2, b1}), {2, 0, 1}, s);
  batched_gemm(dr, dw, v, true, false, 1.0f, 1.0f, s);
  batched_gemm(dv, dw, r, false, false, 1.0f, 0.0f, s);
  // Back through P₁ and BD(L).
  Tensor du = scratch({b2, rows, b1}, x), dt = scratch({b2, rows, b1}, x);
  permute(du, dv, {2, 1, 0}, s);
  batched_gemm(dl, du, t, true, false, 1.0f, 1.0f, s);
  batched_gemm(dt, du, l, false, false, 1.0f, 0.0f, s);
  permute(dx.reshape({rows, b1, b2}), dt, {1, 2, 0}, s);
}

void complex_monarch_forward(const Tensor& y_re, const Tensor& y_im, const Tensor& x_re,
                             const Tensor& x_im, const Tensor& l_re, const Tensor& l_im,
                             const Tensor& r_re, const Tensor& r_im, Stream s) {
  const int64_t rows = x_re.rows(), b2 = l_re.dim(0), b1 = l_re.dim(1);
  // (a + ib)(c + id) = (ac − bd) + i(ad + bc), block by block.
  auto cblocks = [&](const Tensor& o_re, const Tensor& o_im, const Tensor& i_re, const Tensor& i_im,
                     const Tensor& w_re, const Tensor& w_im) {
    batched_gemm(o_re, i_re, w_re, false, true, 1.0f, 0.0f, s);
    batched_gemm(o_re, i_im, w_im, false, true, -1.0f, 1.0f, s);
    batched_gemm(o_im, i_im, w_re, false, true, 1.0f, 0.0f, s);
    batched_gemm(o_im, i_re, w_im, false, true, 1.0f, 1.0f, s);
  };
  Tensor t_re = scratch({b2, rows, b1}, x_re), t_im = scratch({b2, rows, b1}, x_re);
  permute(t_re, x_re.reshape({rows, b1, b2}), {2, 0, 1}, s);
  permute(t_im, x_im.reshape({rows, b1, b2}), {2, 0, 1}, s);
  Tensor u_re = scratch({b2, rows, b1}, x_re), u_im = scratch({b2, rows, b1}, x_re);
  cblocks(u_re, u_im, t_re, t_im, l_re, l_im);
  Tensor v_re = scratch({b1, rows, b2}, x_re), v_im = scratch({b1, rows, b2}, x_re);
  permute(v_re, u_re, {2, 1, 0}, s);
  permute(v_im, u_im, {2, 1, 0}, s);
  Tensor w_re = scratch({b1, rows, b2}, x_re), w_im = scratch({b1, rows, b2}, x_re);
  cblocks(w_re, w_im, v_re, v_im, r_re, r_im);
  permute(y_re.reshape({rows, b2, b1}), w_re, {1, 2, 0}, s);
  permute(y_im.reshape({rows, b2, b1}), w_im, {1, 2, 0}, s);
}

void dft_monarch_factors(const Tensor& l_re, const Tensor& l_im, const Tensor& r_re,
                         const Tensor& r_im, int64_t b1, int64_t b2, bool inverse) {
  for (const Tensor* t : {&l_re, &l_im, &r_re, &r_im})
    SY_CHECK(t->device().is_cpu(), "dft_monarch_factors fills CPU tensors");
  SY_CHECK(l_re.shape() == (Shape{b2, b1, b1}) && r_re.shape() == (Shape{b1, b2, b2}) &&
               l_im.shape() == l_re.shape() && r_im.shape() == r_re.shape(),
           "dft_monarch_factors: l must be (b2, b1, b1), r (b1, b2, b2)");
  const double sign = inverse ? 1.0 : -1.0, n = static_cast<double>(b1 * b2);
  float* lr = l_re.data<float>();
  float* li = l_im.data<float>();
  float* rr = r_re.data<float>();
  float* ri = r_im.data<float>();
  // L_j[k1, n1] = ω_N^{j·k1} · ω_{b1}^{k1·n1}: the size-b1 DFT over n1, then the twiddle.
  for (int64_t j = 0; j < b2; ++j)
    for (int64_t k1 = 0; k1 < b1; ++k1)
      for (int64_t n1 = 0; n1 < b1; ++n1) {
        double angle = sign * 2.0 * M_PI *
                       (static_cast<double>(j * k1) / n +
                        static_cast<double>(k1 * n1) / static_cast<double>(b1));
        lr[(j * b1 + k1) * b1 + n1] = static_cast<float>(std::cos(angle));
        li[(j * b1 + k1) * b1 + n1] = static_cast<float>(std::sin(angle));
      }
  // R_i[k2, n2] = ω_{b2}^{k2·n2}.
  for (int64_t i = 0; i < b1; ++i)
    for (int64_t k2 = 0; k2 < b2; ++k2)
      for (int64_t n2 = 0; n2 < b2; ++n2) {
        double angle = sign * 2.0 * M_PI * static_cast<double>(k2 * n2) / static_cast<double>(b2);
        rr[(i * b2 + k2) * b2 + n2] = static_cast<float>(std::cos(angle));
        ri[(i * b2 + k2) * b2 + n2] = static_cast<float>(std::sin(angle));
      }
}

}  // namespace sy
