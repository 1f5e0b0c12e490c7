// Argument checks shared by both backends, then dispatch on the device of the tensors.
#include "runtime/ops/ops.h"

#include "runtime/ops/cpu/ops_cpu.h"
#if defined(SY_WITH_CUDA)
#include "runtime/ops/cuda/ops_cuda.h"
#endif

namespace sy {

namespace {

bool on_cuda(const Tensor& t) {
  return t.device().is_cuda();
}

#if !defined(SY_WITH_CUDA)
[[noreturn]] void no_cuda(const char* op) {
  SY_THROW(op << ": CUDA tensors given, but this build has no CUDA backend; reconfigure with "
                 "-DSY_CUDA=ON or keep the tensors on the CPU");
}
#endif

#if defined(SY_WITH_CUDA)
#define SY_DISPATCH(op, t, cpu_call, cuda_call) \
  do {                                          \
    if (on_cuda(t)) {                           \
      cuda_call;                                \
    } else {                                    \
      cpu_call;                                 \
    }                                           \
  } while (0)
#else
#define SY_DISPATCH(op, t, cpu_call, cuda_call) \
  do {                                          \
    if (on_cuda(t)) no_cuda(op);                \
    cpu_call;                                   \
  } while (0)
#endif

void check_matrix(const char* op, const char* what, const Tensor& t) {
  SY_CHECK(t.ndim() == 2, op << ": " << what << " must be 2-D, got shape " << shape_str(t.shape()));
  check_dtype(op, what, t, DType::kF32);
}

void check_same_shape(const char* op, const Tensor& a, const Tensor& b) {
  SY_CHECK(a.shape() == b.shape(),
           op << ": shapes differ: " << shape_str(a.shape()) << " vs " << shape_str(b.shape()));
}

void check_offsets(const char* op, const std::vector<int64_t>& offsets, int64_t groups,
                   int64_t rows) {
  SY_CHECK(
      static_cast<int64_t>(offsets.size()) == groups + 1,
      op << ": " << groups << " groups need " << groups + 1 << " offsets, got " << offsets.size());
  SY_CHECK(offsets.front() == 0 && offsets.back() == rows,
           op << ": offsets must run from 0 to " << rows << " rows, got " << offsets.front() << ".."
              << offsets.back());
  for (int64_t g = 0; g < groups; ++g)
    SY_CHECK(offsets[g] <= offsets[g + 1], op << ": offsets decrease at group " << g);
}

// Index bounds can be checked cheaply on the host; on the GPU they are the caller's contract.
void check_index_host(const char* op, const Tensor& index, int64_t limit) {
  if (!index.device().is_cpu()) return;
  const int32_t* p = index.data<int32_t>();
  for (int64_t i = 0; i < index.numel(); ++i)
    SY_CHECK(p[i] < limit, op << ": index[" << i << "] = " << p[i] << " is out of range for "
                              << limit << " rows");
}

}  // namespace

void gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
          float alpha, float beta, Stream stream) {
  check_matrix("gemm", "c", c);
  check_matrix("gemm", "a", a);
  check_matrix("gemm", "b", b);
  check_same_device("gemm", {&c, &a, &b});
  int64_t m = trans_a ? a.dim(1) : a.dim(0), k = trans_a ? a.dim(0) : a.dim(1);
  int64_t kb = trans_b ? b.dim(1) : b.dim(0), n = trans_b ? b.dim(0) : b.dim(1);
  SY_CHECK(k == kb && c.dim(0) == m && c.dim(1) == n,
           "gemm: op(a) is " << m << "x" << k << ", op(b) is " << kb << "x" << n << ", c is "
                             << shape_str(c.shape()));
  SY_DISPATCH("gemm", c, cpu::gemm(c, a, b, trans_a, trans_b, alpha, beta),
              cuda::gemm(c, a, b, trans_a, trans_b, alpha, beta, stream));
}

void grouped_gemm(const Tensor& c, const Tensor& a, const Tensor& b,
                  const std::vector<int64_t>& offsets, bool trans_b, float alpha, float beta,
                  Stream stream) {
  const char* op = "grouped_gemm";
  check_matrix(op, "c", c);
  check_matrix(op, "a", a);
  check_dtype(op, "b", b, DType::kF32);
  SY_CHECK(b.ndim() == 3, op << ": b must be (G,K,N) or (G,N,K), got " << shape_str(b.shape()));
  check_same_device(op, {&c, &a, &b});
  int64_t k = trans_b ? b.dim(2) : b.dim(1), n = trans_b ? b.dim(1) : b.dim(2);
  SY_CHECK(a.dim(1) == k && c.dim(1) == n && c.dim(0) == a.dim(0),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  check_offsets(op, offsets, b.dim(0), a.dim(0));
  SY_DISPATCH(op, c, cpu::grouped_gemm(c, a, b, offsets, trans_b, alpha, beta),
              cuda::grouped_gemm(c, a, b, offsets, trans_b, alpha, beta, stream));
}

void grouped_gemm_weight_grad(const Tensor& c, const Tensor& a, const Tensor& b,
                              const std::vector<int64_t>& offsets, float alpha, float beta,
                              Stream stream) {
  const char* op = "grouped_gemm_weight_grad";
  check_matrix(op, "a", a);
  check_matrix(op, "b", b);
  check_dtype(op, "c", c, DType::kF32);
  SY_CHECK(c.ndim() == 3, op << ": c must be (G,K,N), got " << shape_str(c.shape()));
  check_same_device(op, {&c, &a, &b});
  SY_CHECK(a.dim(0) == b.dim(0) && c.dim(1) == a.dim(1) && c.dim(2) == b.dim(1),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  check_offsets(op, offsets, c.dim(0), a.dim(0));
  SY_DISPATCH(op, c, cpu::grouped_gemm_weight_grad(c, a, b, offsets, alpha, beta),
              cuda::grouped_gemm_weight_grad(c, a, b, offsets, alpha, beta, stream));
}

void gather_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream) {
  const char* op = "gather_rows";
  check_dtype(op, "index", index, DType::kI32);
  check_same_device(op, {&out, &in, &index});
  SY_CHECK(out.dtype() == in.dtype(), op << ": out and in dtypes differ");
  SY_CHECK(out.ndim() >= 1 && in.ndim() >= 1 && out.cols() == in.cols() &&
               out.dim(0) == index.numel() && out.numel() == index.numel() * out.cols() &&
               in.numel() == in.dim(0) * in.cols(),
           op << ": out " << shape_str(out.shape()) << ", in " << shape_str(in.shape())
              << ", index " << shape_str(index.shape()) << " do not fit");
  check_index_host(op, index, in.dim(0));
  SY_DISPATCH(op, out, cpu::gather_rows(out, in, index), cuda::gather_rows(out, in, index, stream));
}

void scatter_rows(const Tensor& out, const Tensor& in, const Tensor& index, Stream stream) {
  const char* op = "scatter_rows";
  check_dtype(op, "index", index, DType::kI32);
  check_same_device(op, {&out, &in, &index});
  SY_CHECK(out.dtype() == in.dtype(), op << ": out and in dtypes differ");
  SY_CHECK(out.ndim() >= 1 && in.ndim() >= 1 && out.cols() == in.cols() &&
               in.dim(0) == index.numel() && in.numel() == index.numel() * in.cols() &&
               out.numel() == out.dim(0) * out.cols(),
           op << ": out " << shape_str(out.shape()) << ", in " << shape_str(in.shape())
              << ", index " << shape_str(index.shape()) << " do not fit");
  check_index_host(op, index, out.dim(0));
  SY_DISPATCH(op, out, cpu::scatter_rows(out, in, index),
              cuda::scatter_rows(out, in, index, stream));
}

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

void activation_forward(const Tensor& out, const Tensor& in, Activation act, Stream stream) {
  check_dtype("activation_forward", "in", in, DType::kF32);
  check_dtype("activation_forward", "out", out, DType::kF32);
  check_same_shape("activation_forward", out, in);
  check_same_device("activation_forward", {&out, &in});
  SY_DISPATCH("activation_forward", in, cpu::activation_forward(out, in, act),
              cuda::activation_forward(out, in, act, stream));
}

void activation_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Activation act,
                         Stream stream) {
  for (const Tensor* t : {&din, &in, &dout})
    check_dtype("activation_backward", "tensor", *t, DType::kF32);
  check_same_shape("activation_backward", din, in);
  check_same_shape("activation_backward", dout, in);
  check_same_device("activation_backward", {&din, &in, &dout});
  SY_DISPATCH("activation_backward", in, cpu::activation_backward(din, in, dout, act),
              cuda::activation_backward(din, in, dout, act, stream));
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

void counting_sort(const Tensor& order, const Tensor& counts, const Tensor& keys, int num_keys,
                   Stream stream) {
  const char* op = "counting_sort";
  for (const Tensor* t : {&order, &counts, &keys}) check_dtype(op, "tensor", *t, DType::kI32);
  check_same_device(op, {&order, &counts, &keys});
  SY_CHECK(num_keys >= 0, op << ": num_keys must be ≥ 0, got " << num_keys);
  SY_CHECK(order.numel() == keys.numel(), op << ": order must hold " << keys.numel() << " items");
  SY_CHECK(counts.numel() == num_keys, op << ": counts must hold " << num_keys << " values");
  SY_CHECK(keys.numel() < (int64_t{1} << 31), op << ": more than 2^31 items");
  SY_DISPATCH(op, keys, cpu::counting_sort(order, counts, keys, num_keys),
              cuda::counting_sort(order, counts, keys, num_keys, stream));
}

void cast(const Tensor& out, const Tensor& in, Stream stream) {
  check_same_device("cast", {&out, &in});
  SY_CHECK(out.numel() == in.numel(), "cast: element counts differ");
  bool ok = in.dtype() == out.dtype() ||
            (in.dtype() == DType::kF32 && out.dtype() == DType::kBF16) ||
            (in.dtype() == DType::kBF16 && out.dtype() == DType::kF32);
  SY_CHECK(ok, "cast: " << dtype_name(in.dtype()) << " → " << dtype_name(out.dtype())
                        << " is not supported (f32 ↔ bf16 only)");
  SY_DISPATCH("cast", in, cpu::cast(out, in), cuda::cast(out, in, stream));
}

void combine_rows(const Tensor& out, const Tensor& y, const Tensor& pos, const Tensor& w,
                  Stream stream) {
  const char* op = "combine_rows";
  check_dtype(op, "out", out, DType::kF32);
  check_dtype(op, "y", y, DType::kF32);
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
  check_dtype(op, "dy", dy, DType::kF32);
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

void swiglu_forward(const Tensor& out, const Tensor& in, Stream stream) {
  check_dtype("swiglu_forward", "in", in, DType::kF32);
  check_dtype("swiglu_forward", "out", out, DType::kF32);
  check_same_device("swiglu_forward", {&out, &in});
  SY_CHECK(in.rows() == out.rows() && in.cols() == 2 * out.cols(),
           "swiglu_forward: in must be (M,2F) for out (M,F); got "
               << shape_str(in.shape()) << " and " << shape_str(out.shape()));
  SY_DISPATCH("swiglu_forward", in, cpu::swiglu_forward(out, in),
              cuda::swiglu_forward(out, in, stream));
}

void swiglu_backward(const Tensor& din, const Tensor& in, const Tensor& dout, Stream stream) {
  check_same_device("swiglu_backward", {&din, &in, &dout});
  SY_CHECK(din.shape() == in.shape() && in.rows() == dout.rows() && in.cols() == 2 * dout.cols(),
           "swiglu_backward: din and in must be (M,2F) for dout (M,F)");
  SY_DISPATCH("swiglu_backward", in, cpu::swiglu_backward(din, in, dout),
              cuda::swiglu_backward(din, in, dout, stream));
}

void add_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  check_same_device("add_bias", {&out, &bias});
  SY_CHECK(bias.numel() == out.cols(), "add_bias: bias must hold " << out.cols() << " values");
  SY_DISPATCH("add_bias", out, cpu::add_bias(out, bias), cuda::add_bias(out, bias, stream));
}

void add_scaled(const Tensor& out, const Tensor& in, float alpha, Stream stream) {
  check_same_device("add_scaled", {&out, &in});
  SY_CHECK(out.numel() == in.numel(), "add_scaled: element counts differ");
  SY_DISPATCH("add_scaled", out, cpu::add_scaled(out, in, alpha),
              cuda::add_scaled(out, in, alpha, stream));
}

void add_row_scaled(const Tensor& out, const Tensor& x, const Tensor& scale, Stream stream) {
  check_same_device("add_row_scaled", {&out, &x, &scale});
  SY_CHECK(out.shape() == x.shape() && scale.numel() == out.rows(),
           "add_row_scaled: out and x must match, scale must hold one value per row");
  SY_DISPATCH("add_row_scaled", out, cpu::add_row_scaled(out, x, scale),
              cuda::add_row_scaled(out, x, scale, stream));
}

void row_dot(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  check_same_device("row_dot", {&out, &a, &b});
  SY_CHECK(a.shape() == b.shape() && out.numel() == a.rows(),
           "row_dot: a and b must match, out must hold one value per row");
  SY_DISPATCH("row_dot", out, cpu::row_dot(out, a, b), cuda::row_dot(out, a, b, stream));
}

void adamw_update(const Tensor& p, const Tensor& m, const Tensor& v, const Tensor& g, float lr,
                  float beta1, float beta2, float eps, float weight_decay, int64_t t,
                  Stream stream) {
  for (const Tensor* x : {&p, &m, &v, &g}) check_dtype("adamw_update", "tensor", *x, DType::kF32);
  check_same_device("adamw_update", {&p, &m, &v, &g});
  SY_CHECK(m.shape() == p.shape() && v.shape() == p.shape() && g.shape() == p.shape(),
           "adamw_update: parameter, moments and gradient must have one shape");
  SY_CHECK(t >= 1, "adamw_update: the step number starts at 1");
  SY_DISPATCH("adamw_update", p,
              cpu::adamw_update(p, m, v, g, lr, beta1, beta2, eps, weight_decay, t),
              cuda::adamw_update(p, m, v, g, lr, beta1, beta2, eps, weight_decay, t, stream));
}

double sum_squares(const Tensor& x, Stream stream) {
  check_dtype("sum_squares", "x", x, DType::kF32);
  double out = 0;
  SY_DISPATCH("sum_squares", x, out = cpu::sum_squares(x), out = cuda::sum_squares(x, stream));
  return out;
}

void scale_inplace(const Tensor& x, float alpha, Stream stream) {
  check_dtype("scale_inplace", "x", x, DType::kF32);
  SY_DISPATCH("scale_inplace", x, cpu::scale_inplace(x, alpha),
              cuda::scale_inplace(x, alpha, stream));
}

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

void cross_entropy_forward(const Tensor& losses, const Tensor& logits, const Tensor& targets,
                           Stream stream) {
  check_dtype("cross_entropy_forward", "logits", logits, DType::kF32);
  check_dtype("cross_entropy_forward", "targets", targets, DType::kI32);
  check_same_device("cross_entropy_forward", {&losses, &logits, &targets});
  SY_CHECK(targets.numel() == logits.rows() && losses.numel() == logits.rows(),
           "cross_entropy_forward: one target and one loss per row of logits");
  check_index_host("cross_entropy_forward", targets, logits.cols());
  SY_DISPATCH("cross_entropy_forward", logits, cpu::cross_entropy_forward(losses, logits, targets),
              cuda::cross_entropy_forward(losses, logits, targets, stream));
}

void cross_entropy_backward(const Tensor& dlogits, const Tensor& logits, const Tensor& targets,
                            const Tensor& dloss, Stream stream) {
  check_dtype("cross_entropy_backward", "targets", targets, DType::kI32);
  check_same_device("cross_entropy_backward", {&dlogits, &logits, &targets, &dloss});
  SY_CHECK(dlogits.shape() == logits.shape() && targets.numel() == logits.rows() &&
               dloss.numel() == logits.rows(),
           "cross_entropy_backward: shapes do not fit");
  check_index_host("cross_entropy_backward", targets, logits.cols());
  SY_DISPATCH("cross_entropy_backward", logits,
              cpu::cross_entropy_backward(dlogits, logits, targets, dloss),
              cuda::cross_entropy_backward(dlogits, logits, targets, dloss, stream));
}

void embedding_backward(const Tensor& dtable, const Tensor& dout, const Tensor& ids,
                        Stream stream) {
  check_dtype("embedding_backward", "ids", ids, DType::kI32);
  check_same_device("embedding_backward", {&dtable, &dout, &ids});
  SY_CHECK(dout.rows() == ids.numel() && dout.cols() == dtable.cols(),
           "embedding_backward: dout must be (ids, " << dtable.cols() << ")");
  if (ids.device().is_cpu()) {
    const int32_t* p = ids.data<int32_t>();
    for (int64_t i = 0; i < ids.numel(); ++i)
      SY_CHECK(p[i] >= 0 && p[i] < dtable.dim(0),
               "embedding_backward: id " << p[i] << " outside the vocabulary of " << dtable.dim(0));
  }
  SY_DISPATCH("embedding_backward", ids, cpu::embedding_backward(dtable, dout, ids),
              cuda::embedding_backward(dtable, dout, ids, stream));
}

void permute(const Tensor& out, const Tensor& in, const std::vector<int>& perm, Stream stream) {
  const char* op = "permute";
  int nd = in.ndim();
  SY_CHECK(nd >= 1 && nd <= kernels::kMaxPermuteDims && static_cast<int>(perm.size()) == nd,
           op << ": need a permutation of the " << nd << " dimensions (at most "
              << kernels::kMaxPermuteDims << ")");
  SY_CHECK(out.dtype() == in.dtype(), op << ": dtypes differ");
  check_same_device(op, {&out, &in});
  std::vector<int64_t> in_stride(nd, 1);
  for (int d = nd - 2; d >= 0; --d) in_stride[d] = in_stride[d + 1] * in.dim(d + 1);
  kernels::PermuteIndex index{};
  index.ndim = nd;
  std::vector<bool> used(nd, false);
  for (int d = 0; d < nd; ++d) {
    SY_CHECK(perm[d] >= 0 && perm[d] < nd && !used[perm[d]], op << ": not a permutation");
    used[perm[d]] = true;
    index.out_shape[d] = in.dim(perm[d]);
    index.in_stride_for_out_dim[d] = in_stride[perm[d]];
    SY_CHECK(out.ndim() == nd && out.dim(d) == in.dim(perm[d]),
             op << ": out " << shape_str(out.shape()) << " is not in " << shape_str(in.shape())
                << " permuted");
  }
  SY_DISPATCH(op, in, cpu::permute(out, in, index), cuda::permute(out, in, index, stream));
}

void batched_gemm(const Tensor& c, const Tensor& a, const Tensor& b, bool trans_a, bool trans_b,
                  float alpha, float beta, Stream stream) {
  const char* op = "batched_gemm";
  for (const Tensor* t : {&c, &a, &b}) {
    check_dtype(op, "tensor", *t, DType::kF32);
    SY_CHECK(t->ndim() == 3, op << ": tensors must be 3-D (batch, rows, cols)");
  }
  check_same_device(op, {&c, &a, &b});
  int64_t m = trans_a ? a.dim(2) : a.dim(1), k = trans_a ? a.dim(1) : a.dim(2);
  int64_t kb = trans_b ? b.dim(2) : b.dim(1), n = trans_b ? b.dim(1) : b.dim(2);
  SY_CHECK(k == kb && c.dim(1) == m && c.dim(2) == n && (a.dim(0) == c.dim(0) || a.dim(0) == 1) &&
               (b.dim(0) == c.dim(0) || b.dim(0) == 1),
           op << ": a " << shape_str(a.shape()) << ", b " << shape_str(b.shape()) << ", c "
              << shape_str(c.shape()) << " do not fit");
  SY_DISPATCH(op, c, cpu::batched_gemm(c, a, b, trans_a, trans_b, alpha, beta),
              cuda::batched_gemm(c, a, b, trans_a, trans_b, alpha, beta, stream));
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

void mul(const Tensor& out, const Tensor& a, const Tensor& b, Stream stream) {
  check_same_device("mul", {&out, &a, &b});
  SY_CHECK(out.numel() == a.numel() && a.numel() == b.numel(), "mul: element counts differ");
  SY_DISPATCH("mul", out, cpu::mul(out, a, b), cuda::mul(out, a, b, stream));
}

void add_row_bias(const Tensor& out, const Tensor& bias, Stream stream) {
  check_same_device("add_row_bias", {&out, &bias});
  SY_CHECK(bias.numel() == out.rows(),
           "add_row_bias: bias must hold one value per row (" << out.rows() << ")");
  SY_DISPATCH("add_row_bias", out, cpu::add_row_bias(out, bias),
              cuda::add_row_bias(out, bias, stream));
}

void causal_mask(const Tensor& out, const Tensor& in, Stream stream) {
  check_same_shape("causal_mask", out, in);
  check_same_device("causal_mask", {&out, &in});
  SY_CHECK(in.ndim() >= 2 && in.dim(-1) == in.dim(-2), "causal_mask: in must end in square blocks");
  SY_DISPATCH("causal_mask", in, cpu::causal_mask(out, in), cuda::causal_mask(out, in, stream));
}

void complex_mul_rows(const Tensor& out_re, const Tensor& out_im, const Tensor& a_re,
                      const Tensor& a_im, const Tensor& b_re, const Tensor& b_im, bool conj_b,
                      Stream stream) {
  const char* op = "complex_mul_rows";
  check_same_device(op, {&out_re, &out_im, &a_re, &a_im, &b_re, &b_im});
  SY_CHECK(out_re.shape() == a_re.shape() && out_im.shape() == a_re.shape() &&
               a_im.shape() == a_re.shape() && b_im.shape() == b_re.shape() &&
               b_re.cols() == a_re.cols() && b_re.rows() >= 1 && a_re.rows() % b_re.rows() == 0,
           op << ": a and out must be (R, N), b (P, N) with P dividing R");
  SY_DISPATCH(op, a_re, cpu::complex_mul_rows(out_re, out_im, a_re, a_im, b_re, b_im, conj_b),
              cuda::complex_mul_rows(out_re, out_im, a_re, a_im, b_re, b_im, conj_b, stream));
}

void depthwise_causal_conv_forward(const Tensor& y, const Tensor& x, const Tensor& k,
                                   Stream stream) {
  const char* op = "depthwise_causal_conv_forward";
  check_same_device(op, {&y, &x, &k});
  SY_CHECK(y.shape() == x.shape() && x.ndim() == 2 && k.ndim() == 2 && k.rows() >= 1 &&
               x.rows() % k.rows() == 0,
           op << ": x, y must be (R, T) and k (C, K) with C dividing R");
  SY_DISPATCH(op, x, cpu::depthwise_causal_conv_forward(y, x, k),
              cuda::depthwise_causal_conv_forward(y, x, k, stream));
}

void depthwise_causal_conv_backward(const Tensor& dx, const Tensor& dk, const Tensor& dy,
                                    const Tensor& x, const Tensor& k, Stream stream) {
  const char* op = "depthwise_causal_conv_backward";
  check_same_device(op, {&dx, &dk, &dy, &x, &k});
  SY_CHECK(dx.shape() == x.shape() && dy.shape() == x.shape() && dk.shape() == k.shape() &&
               x.rows() % k.rows() == 0,
           op << ": shapes do not fit");
  SY_DISPATCH(op, x, cpu::depthwise_causal_conv_backward(dx, dk, dy, x, k),
              cuda::depthwise_causal_conv_backward(dx, dk, dy, x, k, stream));
}

}  // namespace sy
