// Tensor: a shape, an element type, a device, and a reference to memory. Always contiguous and
// row-major. An owning tensor frees its memory when the last reference goes; a view (rows(),
// reshape(), wrap()) shares or borrows memory and never frees what it does not own.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

#include "runtime/core/backend.h"
#include "runtime/core/dtype.h"
#include "runtime/core/error.h"

namespace sy {

using Shape = std::vector<int64_t>;
std::string shape_str(const Shape& s);
int64_t shape_numel(const Shape& s);

class Tensor {
 public:
  Tensor() = default;

  // Uninitialised memory on `device`.
  static Tensor empty(const Shape& shape, DType dtype, Device device = Device::cpu());
  static Tensor zeros(const Shape& shape, DType dtype, Device device = Device::cpu(),
                      Stream stream = {});
  static Tensor full(const Shape& shape, DType dtype, double value, Device device = Device::cpu(),
                     Stream stream = {});
  // A non-owning view of memory someone else manages.
  static Tensor wrap(void* data, const Shape& shape, DType dtype, Device device = Device::cpu());
  // A tensor on `device` holding a copy of `values`. An upload: the host does not wait for the
  // device (CUDA stages pageable memory before the copy call returns), so it is no host sync.
  template <typename T>
  static Tensor from_vector(const std::vector<T>& values, const Shape& shape,
                            Device device = Device::cpu(), Stream stream = {});

  bool defined() const { return storage_ != nullptr || shape_numel(shape_) == 0; }
  const Shape& shape() const { return shape_; }
  int ndim() const { return static_cast<int>(shape_.size()); }
  // Size of dimension i; negative i counts from the end.
  int64_t dim(int i) const;
  int64_t numel() const { return shape_numel(shape_); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  DType dtype() const { return dtype_; }
  Device device() const { return device_; }
  // Rows = product of all dimensions but the last; cols = the last dimension.
  int64_t rows() const;
  int64_t cols() const;

  void* raw() const;
  template <typename T>
  T* data() const {
    SY_CHECK(DTypeOf<T>::value == dtype_, "tensor holds " << dtype_name(dtype_) << ", accessed as "
                                                          << dtype_name(DTypeOf<T>::value));
    return static_cast<T*>(raw());
  }

  // View of rows [begin, end) along the first dimension.
  Tensor slice_rows(int64_t begin, int64_t end) const;
  // View with a new shape of the same element count.
  Tensor reshape(const Shape& shape) const;

  // A copy on `device` (synchronous with respect to the host when either side is the CPU).
  Tensor to(Device device, Stream stream = {}) const;
  // Copies src into this tensor (same dtype and element count), across devices if needed.
  void copy_from(const Tensor& src, Stream stream = {}) const;
  void fill(double value, Stream stream = {}) const;
  // Work queued on `stream` (not the default stream) reads or writes this tensor: its memory is
  // not reused before that work is done, even if the tensor is freed first. No-op for a view of
  // memory the tensor does not own.
  void record_stream(Stream stream) const;

  template <typename T>
  std::vector<T> to_vector() const;

 private:
  // A tensor on new memory of `device` (owned) or on the caller's `data`.
  static Tensor on(void* data, bool owned, const Shape& shape, DType dtype, Device device);

  struct Storage {
    void* ptr = nullptr;
    size_t bytes = 0;
    Device device;
    bool owned = false;
    ~Storage();
  };
  std::shared_ptr<Storage> storage_;
  size_t offset_ = 0;  // bytes from storage_->ptr
  Shape shape_;
  DType dtype_ = DType::kF32;
  Device device_;
};

template <typename T>
Tensor Tensor::from_vector(const std::vector<T>& values, const Shape& shape, Device device,
                           Stream stream) {
  SY_CHECK(static_cast<int64_t>(values.size()) == shape_numel(shape),
           values.size() << " values do not fill shape " << shape_str(shape));
  Tensor t = empty(shape, DTypeOf<T>::value, device);
  if (values.empty()) return t;
  if (device.is_cpu()) {
    std::memcpy(t.raw(), values.data(), values.size() * sizeof(T));
  } else {
    t.copy_from(wrap(const_cast<T*>(values.data()), shape, DTypeOf<T>::value), stream);
  }
  return t;
}

template <typename T>
std::vector<T> Tensor::to_vector() const {
  SY_CHECK(DTypeOf<T>::value == dtype_,
           "to_vector type mismatch: tensor holds " << dtype_name(dtype_));
  std::vector<T> out(static_cast<size_t>(numel()));
  if (device_.is_cpu()) note_host_sync();  // a GPU copy counts in its synchronize
  if (!out.empty()) {
    Tensor host = wrap(out.data(), shape_, dtype_, Device::cpu());
    host.copy_from(*this);
  }
  return out;
}

// Makes each tensor undefined, releasing its reference: a layer dropping the activations its
// forward kept (recompute, models/language_model.h).
template <typename... T>
void release(T&... tensors) {
  ((tensors = Tensor()), ...);
}

// Argument checks shared by the ops.
void check_same_device(const char* op, std::initializer_list<const Tensor*> ts);
void check_dtype(const char* op, const char* what, const Tensor& t, DType want);

}  // namespace sy
