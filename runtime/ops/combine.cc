// The MoE combine: the weighted sum of each item's k returned rows, and its backward: argument
// checks, then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"

namespace sy {

using namespace op_checks;

namespace {
// The returned rows are the exchange's payload: f32, or bf16 in mixed precision.
void check_payload(const char* op, const char* what, const Tensor& t) {
  SY_CHECK(t.dtype() == DType::kF32 || t.dtype() == DType::kBF16,
           op << ": " << what << " must be f32 or bf16, got " << dtype_name(t.dtype()));
}
}  // namespace

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream) {
  const char* op = "combine_rows";
  check_dtype(op, "out", out, DType::kF32);
  check_payload(op, "y", y);
  check_dtype(op, "pos", pos, DType::kI32);
  check_dtype(op, "w", w, DType::kF32);
  check_same_device(op, {&out, &y, &pos, &w});
  SY_CHECK(out.cols() == y.cols() && pos.rows() == out.rows() && w.shape() == pos.shape(),
           op << ": out " << shape_str(out.shape()) << ", y " << shape_str(y.shape()) << ", pos "
              << shape_str(pos.shape()) << ", w " << shape_str(w.shape()) << " do not fit");
  check_index_host(op, pos, y.rows());
  SY_DISPATCH(op, out, cpu::combine_rows(out, y, pos, w),
              cuda::combine_rows(out, y, pos, w, stream));
}

void combine_rows_backward(const Tensor& dy, const Tensor& dw, const Tensor& dout, const Tensor& y,
                           const Tensor& pos, const Tensor& w, Stream stream) {
  const char* op = "combine_rows_backward";
  check_payload(op, "dy", dy);
  SY_CHECK(y.dtype() == dy.dtype(), op << ": y and dy must have one dtype");
  check_dtype(op, "dout", dout, DType::kF32);
  check_dtype(op, "pos", pos, DType::kI32);
  check_same_device(op, {&dy, &dout, &y, &pos, &w});
  SY_CHECK(dy.shape() == y.shape() && dout.cols() == y.cols() && pos.rows() == dout.rows() &&
               w.shape() == pos.shape(),
           op << ": shapes do not fit");
  if (dw.defined() && dw.numel()) {
    check_dtype(op, "dw", dw, DType::kF32);
    SY_CHECK(dw.shape() == pos.shape(), op << ": dw must have the shape of pos");
    check_same_device(op, {&dw, &dy});
  }
  check_index_host(op, pos, y.rows());
  SY_DISPATCH(op, dout, cpu::combine_rows_backward(dy, dw, dout, y, pos, w),
              cuda::combine_rows_backward(dy, dw, dout, y, pos, w, stream));
}

}  // namespace sy
