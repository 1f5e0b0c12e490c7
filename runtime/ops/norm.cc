// LayerNorm and RMSNorm, forward and backward (parameter gradients summed over rows in order):
// argument checks, then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

namespace {

void check_norm(const char* op, const Tensor& in, const Tensor& gamma,
                std::initializer_list<const Tensor*> same_shape,
                std::initializer_list<const Tensor*> per_row) {
  check_dtype(op, "in", in, DType::kF32);
  SY_CHECK(gamma.numel() == in.cols(), op << ": gamma must hold " << in.cols() << " values");
  for (const Tensor* t : same_shape)
    SY_CHECK(t->shape() == in.shape(),
             op << ": tensors must be shaped like in " << shape_str(in.shape()));
  for (const Tensor* t : per_row)
    SY_CHECK(t->numel() == in.rows(), op << ": statistics must hold one value per row");
}

}  // namespace

void layernorm_forward(const Tensor& out, const Tensor& mean, const Tensor& rstd, const Tensor& in,
                       const Tensor& gamma, const Tensor& beta, float eps, Stream stream) {
  check_norm("layernorm_forward", in, gamma, {&out}, {&mean, &rstd});
  SY_CHECK(beta.numel() == in.cols(),
           "layernorm_forward: beta must hold " << in.cols() << " values");
  check_same_device("layernorm_forward", {&out, &mean, &rstd, &in, &gamma, &beta});
  SY_DISPATCH("layernorm_forward", in,
              cpu::layernorm_forward(out, mean, rstd, in, gamma, beta, eps),
              cuda::layernorm_forward(out, mean, rstd, in, gamma, beta, eps, stream));
}

void layernorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dbeta,
                        const Tensor& dout, const Tensor& in, const Tensor& mean,
                        const Tensor& rstd, const Tensor& gamma, Stream stream) {
  check_norm("layernorm_backward", in, gamma, {&din, &dout}, {&mean, &rstd});
  SY_CHECK(dgamma.numel() == in.cols() && dbeta.numel() == in.cols(),
           "layernorm_backward: dgamma and dbeta must hold " << in.cols() << " values");
  check_same_device("layernorm_backward",
                    {&din, &dgamma, &dbeta, &dout, &in, &mean, &rstd, &gamma});
  SY_DISPATCH("layernorm_backward", in,
              cpu::layernorm_backward(din, dgamma, dbeta, dout, in, mean, rstd, gamma),
              cuda::layernorm_backward(din, dgamma, dbeta, dout, in, mean, rstd, gamma, stream));
}

void rmsnorm_forward(const Tensor& out, const Tensor& rstd, const Tensor& in, const Tensor& gamma,
                     float eps, Stream stream) {
  check_norm("rmsnorm_forward", in, gamma, {&out}, {&rstd});
  check_same_device("rmsnorm_forward", {&out, &rstd, &in, &gamma});
  SY_DISPATCH("rmsnorm_forward", in, cpu::rmsnorm_forward(out, rstd, in, gamma, eps),
              cuda::rmsnorm_forward(out, rstd, in, gamma, eps, stream));
}

void rmsnorm_backward(const Tensor& din, const Tensor& dgamma, const Tensor& dout, const Tensor& in,
                      const Tensor& rstd, const Tensor& gamma, Stream stream) {
  check_norm("rmsnorm_backward", in, gamma, {&din, &dout}, {&rstd});
  SY_CHECK(dgamma.numel() == in.cols(),
           "rmsnorm_backward: dgamma must hold " << in.cols() << " values");
  check_same_device("rmsnorm_backward", {&din, &dgamma, &dout, &in, &rstd, &gamma});
  SY_DISPATCH("rmsnorm_backward", in, cpu::rmsnorm_backward(din, dgamma, dout, in, rstd, gamma),
              cuda::rmsnorm_backward(din, dgamma, dout, in, rstd, gamma, stream));
}

}  // namespace sy
