// Monarch matrices (Dao et al.; M2, PAPERS.md), built from the core ops — permute and the strided
// batched GEMM — so they run on every backend the ops run on.
//
// Block-diagonal linear: W = diag(W_0, …, W_{nb−1}), W_i (out/nb × in/nb):
//   y (R, out) = x (R, in) · Wᵀ, block by block.
//
// Monarch matrix of size N = b1·b2 (order 2; b1 = b2 = b is the square case N = b²):
//   M·x = P₂ · BD(R) · P₁ · BD(L) · P₀ · x
// with P₀: view x as (b1, b2) and transpose to (b2, b1); BD(L): b2 blocks L_j of b1×b1, one per
// row; P₁: transpose back to (b1, b2); BD(R): b1 blocks R_i of b2×b2; P₂: transpose to (b2, b1).
// For b1 = b2 every P is the same reshape-transpose-flatten (its own inverse): M =
// P·BD(R)·P·BD(L)·P. 2·N·(b1 + b2)/2 multiply-adds instead of N². The permutations are strided
// transposes (the permute op), never index gathers.
#pragma once

#include "runtime/core/tensor.h"

namespace sy {

// The factorisation N = b1·b2 every Monarch matrix here uses (experts, M2's DFTs): b1 the largest
// divisor of N not above √N.
int64_t monarch_b1(int64_t n);

// The real products take x, y, dx, dy and the factors all f32, or all bf16 (mixed precision: fp32
// accumulation, each intermediate rounded once); the weight gradients are f32 either way.

// y (R, out) = block_diag(w) · x per row; w (nb, out/nb, in/nb).
void block_diag_forward(const Tensor& y, const Tensor& x, const Tensor& w, Stream stream = {});
// dx (R, in) assigned; dw (nb, out/nb, in/nb) += .
void block_diag_backward(const Tensor& dx, const Tensor& dw, const Tensor& dy, const Tensor& x,
                         const Tensor& w, Stream stream = {});

// y (R, N) = M·x per row, N = b1·b2; l (b2, b1, b1), r (b1, b2, b2).
void monarch_forward(const Tensor& y, const Tensor& x, const Tensor& l, const Tensor& r,
                     Stream stream = {});
// dx assigned; dl, dr accumulate.
void monarch_backward(const Tensor& dx, const Tensor& dl, const Tensor& dr, const Tensor& dy,
                      const Tensor& x, const Tensor& l, const Tensor& r, Stream stream = {});

// A complex Monarch product on (re, im) planes: y = M·x with complex factors l = l_re + i·l_im,
// r = r_re + i·r_im (shapes as above). Complex arithmetic as real pairs: 4 real batched GEMMs per
// block-diagonal factor.
void complex_monarch_forward(const Tensor& y_re, const Tensor& y_im, const Tensor& x_re,
                             const Tensor& x_im, const Tensor& l_re, const Tensor& l_im,
                             const Tensor& r_re, const Tensor& r_im, Stream stream = {});

// The factors of the DFT of size N = b1·b2 as a Monarch matrix (Cooley–Tukey): L_j =
// diag(ω_N^{j·k}) · F_{b1} (twiddles folded in), R_i = F_{b2}, with ω_n = e^{∓2πi/n} (− forward, +
// inverse; the inverse is not scaled by 1/N). Filled on the CPU; copy to the device to use there.
void dft_monarch_factors(const Tensor& l_re, const Tensor& l_im, const Tensor& r_re,
                         const Tensor& r_im, int64_t b1, int64_t b2, bool inverse);

}  // namespace sy
