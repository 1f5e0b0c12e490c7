// Row ops: softmax (plain and causal) and its backward, top-k, row and column reductions,
// row dots: argument checks, then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

void softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  check_dtype("softmax_forward", "in", in, DType::kF32);
  check_dtype("softmax_forward", "out", out, DType::kF32);
  check_same_shape("softmax_forward", out, in);
  check_same_device("softmax_forward", {&out, &in});
  SY_DISPATCH("softmax_forward", out, cpu::softmax_forward(out, in),
              cuda::softmax_forward(out, in, stream));
}

void softmax_backward(const Tensor& din, const Tensor& out, const Tensor& dout, Stream stream) {
  for (const Tensor* t : {&din, &out, &dout})
    check_dtype("softmax_backward", "tensor", *t, DType::kF32);
  check_same_shape("softmax_backward", din, out);
  check_same_shape("softmax_backward", dout, out);
  check_same_device("softmax_backward", {&din, &out, &dout});
  SY_DISPATCH("softmax_backward", din, cpu::softmax_backward(din, out, dout),
              cuda::softmax_backward(din, out, dout, stream));
}

void causal_softmax_forward(const Tensor& out, const Tensor& in, Stream stream) {
  check_dtype("causal_softmax_forward", "in", in, DType::kF32);
  check_same_shape("causal_softmax_forward", out, in);
  check_same_device("causal_softmax_forward", {&out, &in});
  SY_CHECK(
      in.ndim() >= 2 && in.dim(-1) == in.dim(-2),
      "causal_softmax_forward: in must end in square (T, T) blocks, got " << shape_str(in.shape()));
  SY_DISPATCH("causal_softmax_forward", in, cpu::causal_softmax_forward(out, in),
              cuda::causal_softmax_forward(out, in, stream));
}

void topk(const Tensor& values, const Tensor& indices, const Tensor& in, int k, Stream stream) {
  check_dtype("topk", "in", in, DType::kF32);
  check_dtype("topk", "values", values, DType::kF32);
  check_dtype("topk", "indices", indices, DType::kI32);
  check_same_device("topk", {&values, &indices, &in});
  SY_CHECK(k >= 1 && k <= in.cols(), "topk: k = " << k << " must be in [1, " << in.cols() << "]");
  SY_CHECK(values.rows() == in.rows() && values.cols() == k && indices.rows() == in.rows() &&
               indices.cols() == k,
           "topk: values and indices must be (" << in.rows() << "," << k << ")");
  SY_DISPATCH("topk", in, cpu::topk(values, indices, in, k),
              cuda::topk(values, indices, in, k, stream));
}

void reduce_rows(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  check_dtype("reduce_rows", "in", in, DType::kF32);
  check_dtype("reduce_rows", "out", out, DType::kF32);
  check_same_device("reduce_rows", {&out, &in});
  SY_CHECK(out.numel() == in.rows(),
           "reduce_rows: out must hold " << in.rows() << " values, has " << out.numel());
  SY_DISPATCH("reduce_rows", in, cpu::reduce_rows(out, in, op),
              cuda::reduce_rows(out, in, op, stream));
}

void reduce_cols(const Tensor& out, const Tensor& in, ReduceOp op, Stream stream) {
  check_dtype("reduce_cols", "in", in, DType::kF32);
  check_dtype("reduce_cols", "out", out, DType::kF32);
  check_same_device("reduce_cols", {&out, &in});
  SY_CHECK(out.numel() == in.cols(),
           "reduce_cols: out must hold " << in.cols() << " values, has " << out.numel());
  SY_DISPATCH("reduce_cols", in, cpu::reduce_cols(out, in, op),
              cuda::reduce_cols(out, in, op, stream));
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  check_same_device("row_dot", {&out, &a, &b});
  SY_CHECK(a.shape() == b.shape() && out.numel() == a.rows(),
           "row_dot: a and b must match, out must hold one value per row");
  SY_DISPATCH("row_dot", out, cpu::row_dot(out, a, b), cuda::row_dot(out, a, b, stream));
}

void l2_normalize_rows(const Tensor& out, const Tensor& norms, const Tensor& in, Stream stream) {
  const char* op = "l2_normalize_rows";
  check_matrix(op, "in", in);
  check_same_shape(op, out, in);
  SY_CHECK(norms.numel() == in.rows(), op << ": norms must hold one value per row");
  check_same_device(op, {&out, &norms, &in});
  SY_DISPATCH(op, in, cpu::l2_normalize_rows(out, norms, in),
              cuda::l2_normalize_rows(out, norms, in, stream));
}

void l2_normalize_rows_backward(const Tensor& din, const Tensor& dout, const Tensor& out,
                                const Tensor& norms, Stream stream) {
  const char* op = "l2_normalize_rows_backward";
  check_matrix(op, "out", out);
  check_same_shape(op, din, out);
  check_same_shape(op, dout, out);
  SY_CHECK(norms.numel() == out.rows(), op << ": norms must hold one value per row");
  check_same_device(op, {&din, &dout, &out, &norms});
  SY_DISPATCH(op, out, cpu::l2_normalize_rows_backward(din, dout, out, norms),
              cuda::l2_normalize_rows_backward(din, dout, out, norms, stream));
}

}  // namespace sy
