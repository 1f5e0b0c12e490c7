// Index ops: row gather and scatter (dispatch's permutes), the stable counting sort, the
// strided permute of dimensions, and the embedding gradient (a sort by id, then sums in order):
// argument checks, then the CPU or CUDA implementation.
#include "runtime/ops/op_checks.h"
#include "runtime/ops/shared/index_math.h"

namespace sy {

using namespace op_checks;

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

}  // namespace sy
