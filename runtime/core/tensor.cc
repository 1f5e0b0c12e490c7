#include "runtime/core/tensor.h"

#include <sstream>

namespace sy {

std::string shape_str(const Shape& s) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < s.size(); ++i) os << (i ? "," : "") << s[i];
  os << ")";
  return os.str();
}

int64_t shape_numel(const Shape& s) {
  int64_t n = 1;
  for (int64_t d : s) n *= d;
  return n;
}

Tensor::Storage::~Storage() {
  if (owned && ptr) backend(device).deallocate(ptr);
}

void Tensor::record_stream(Stream stream) const {
  if (storage_ && storage_->owned && storage_->ptr)
    backend(storage_->device).record_stream(storage_->ptr, stream);
}

static void check_shape(const Shape& shape) {
  for (int64_t d : shape) SY_CHECK(d >= 0, "negative dimension in shape " << shape_str(shape));
}

Tensor Tensor::on(void* data, bool owned, const Shape& shape, DType dtype, Device device) {
  check_shape(shape);
  Tensor t;
  t.shape_ = shape;
  t.dtype_ = dtype;
  t.device_ = device;
  t.storage_ = std::make_shared<Storage>();
  t.storage_->bytes = t.nbytes();
  t.storage_->device = device;
  t.storage_->ptr = owned ? backend(device).allocate(t.storage_->bytes) : data;
  t.storage_->owned = owned;
  return t;
}

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
  return on(nullptr, true, shape, dtype, device);
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device, Stream stream) {
  return full(shape, dtype, 0.0, device, stream);
}

Tensor Tensor::full(const Shape& shape, DType dtype, double value, Device device, Stream stream) {
  Tensor t = empty(shape, dtype, device);
  t.fill(value, stream);
  return t;
}

Tensor Tensor::wrap(void* data, const Shape& shape, DType dtype, Device device) {
  return on(data, false, shape, dtype, device);
}

int64_t Tensor::dim(int i) const {
  int n = ndim();
  int j = i < 0 ? i + n : i;
  SY_CHECK(j >= 0 && j < n, "dimension " << i << " out of range for shape " << shape_str(shape_));
  return shape_[j];
}

int64_t Tensor::rows() const {
  if (shape_.empty()) return 1;
  int64_t r = 1;
  for (size_t i = 0; i + 1 < shape_.size(); ++i) r *= shape_[i];
  return r;
}

int64_t Tensor::cols() const {
  return shape_.empty() ? 1 : shape_.back();
}

void* Tensor::raw() const {
  if (!storage_ || !storage_->ptr) return nullptr;
  return static_cast<char*>(storage_->ptr) + offset_;
}

Tensor Tensor::slice_rows(int64_t begin, int64_t end) const {
  SY_CHECK(ndim() >= 1, "slice_rows on a scalar");
  SY_CHECK(
      0 <= begin && begin <= end && end <= shape_[0],
      "row slice [" << begin << "," << end << ") out of range for shape " << shape_str(shape_));
  Tensor t = *this;
  int64_t row_elems = shape_[0] ? numel() / shape_[0] : 0;
  t.offset_ = offset_ + static_cast<size_t>(begin * row_elems) * dtype_size(dtype_);
  t.shape_[0] = end - begin;
  return t;
}

Tensor Tensor::reshape(const Shape& shape) const {
  check_shape(shape);
  SY_CHECK(shape_numel(shape) == numel(),
           "cannot reshape " << shape_str(shape_) << " to " << shape_str(shape));
  Tensor t = *this;
  t.shape_ = shape;
  return t;
}

Tensor Tensor::to(Device device, Stream stream) const {
  if (device.is_cpu() && device_.is_cpu())
    note_host_sync();  // a GPU copy counts in its synchronize
  Tensor t = empty(shape_, dtype_, device);
  t.copy_from(*this, stream);
  return t;
}

void Tensor::copy_from(const Tensor& src, Stream stream) const {
  SY_CHECK(src.dtype_ == dtype_, "copy from " << dtype_name(src.dtype_) << " into "
                                              << dtype_name(dtype_) << "; use cast()");
  SY_CHECK(src.numel() == numel(),
           "copy from shape " << shape_str(src.shape_) << " into " << shape_str(shape_));
  if (nbytes() == 0) return;
  if (device_.is_cpu() && src.device_.is_cpu()) {
    backend(DeviceType::kCPU).copy(raw(), src.raw(), nbytes(), stream);
    return;
  }
  // Any copy that touches a GPU goes through the CUDA backend. Into the host, the copy completes
  // before we return, so host code may read the buffer at once. From the host, CUDA stages our
  // pageable memory before cudaMemcpyAsync returns, so the caller may reuse it without a wait.
  Backend& cuda = backend(DeviceType::kCUDA);
  cuda.copy(raw(), src.raw(), nbytes(), stream);
  if (device_.is_cpu()) cuda.synchronize(stream);
}

void Tensor::fill(double value, Stream stream) const {
  if (numel() == 0) return;
  backend(device_).fill(raw(), static_cast<size_t>(numel()), dtype_, value, stream);
}

void check_same_device(const char* op, std::initializer_list<const Tensor*> ts) {
  const Tensor* first = nullptr;
  for (const Tensor* t : ts) {
    if (!t) continue;
    if (!first) {
      first = t;
      continue;
    }
    SY_CHECK(t->device() == first->device(), op << ": tensors on different devices ("
                                                << device_name(first->device()) << " and "
                                                << device_name(t->device()) << ")");
  }
}

void check_dtype(const char* op, const char* what, const Tensor& t, DType want) {
  SY_CHECK(t.dtype() == want, op << ": " << what << " must be " << dtype_name(want) << ", got "
                                 << dtype_name(t.dtype()));
}

}  // namespace sy
