#include "experts/moe_layer.h"

#include <chrono>
#include <cmath>

#include "experts/tensor_exchange.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

class StepTimer {
 public:
  explicit StepTimer(double* into) : into_(into), t0_(std::chrono::steady_clock::now()) {}
  ~StepTimer() {
    *into_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  double* into_;
  std::chrono::steady_clock::time_point t0_;
};

Tensor upload_i32(const std::vector<int32_t>& v, int64_t rows, int64_t cols, Device d) {
  return Tensor::from_vector(v, {rows, cols}).to(d);
}

Tensor upload_f32(const std::vector<float>& v, int64_t rows, int64_t cols, Device d) {
  return Tensor::from_vector(v, {rows, cols}).to(d);
}

}  // namespace

MoeLayer::MoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device)
    : options_(o), groups_(groups), device_(device) {
  SY_CHECK(o.num_heads >= 1 && o.d_model % o.num_heads == 0,
           "MoE layer '" << o.name << "': num_heads = " << o.num_heads
                         << " must divide d_model = " << o.d_model);
  int ep = groups.ep_group->size();
  SY_CHECK(o.num_experts % ep == 0, "MoE layer '" << o.name << "': E = " << o.num_experts
                                                  << " experts are not divisible by ep = " << ep);
  SY_CHECK(o.chunks >= 1, "MoE layer '" << o.name << "': chunks must be ≥ 1");
  width_ = o.item_width();
  int e_local = o.num_experts / ep;
  first_expert_ = groups.ep_group->rank() * e_local;
  router_ = make_router(o, width_, device);
  experts_ = std::make_unique<ExpertFFN>(o, width_, first_expert_, e_local, device);
  if (o.mh_projections) {
    int d = o.d_model;
    float scale = 1.0f / std::sqrt(static_cast<float>(d));
    w_head_ = std::make_unique<Param>(o.name + ".head.w", Shape{d, d}, device);
    b_head_ = std::make_unique<Param>(o.name + ".head.b", Shape{d}, device);
    w_merge_ = std::make_unique<Param>(o.name + ".merge.w", Shape{d, d}, device);
    b_merge_ = std::make_unique<Param>(o.name + ".merge.b", Shape{d}, device);
    fill_normal(w_head_->value, o.seed, stream_id(w_head_->name.c_str()), scale);
    fill_normal(w_merge_->value, o.seed, stream_id(w_merge_->name.c_str()), scale);
  }
}

std::vector<Param*> MoeLayer::params() {
  std::vector<Param*> out = router_->params();
  for (Param* p : experts_->params()) out.push_back(p);
  if (w_head_) {
    for (Param* p : {w_head_.get(), b_head_.get(), w_merge_.get(), b_merge_.get()})
      out.push_back(p);
  }
  return out;
}

void MoeLayer::zero_grad() {
  for (Param* p : params()) p->zero_grad();
}

void MoeLayer::reduce_gradients() {
  for (Param* p : params())
    all_reduce_sum(p->grad, p->is_expert ? *groups_.edp_group : *groups_.world);
}

void MoeLayer::forward(const Tensor& y, const Tensor& x, const int32_t* token_ids, bool training) {
  const int h = options_.num_heads;
  const int64_t n_tok = x.dim(0), d = options_.d_model;
  SY_CHECK(x.ndim() == 2 && x.dim(1) == d && y.shape() == x.shape(),
           "MoE layer '" << options_.name << "': x and y must be (N, " << d << "), got "
                         << shape_str(x.shape()) << " and " << shape_str(y.shape()));
  stats_ = MoeStats{};
  x_ = x;
  // MH-MoE: project, then view the (N, d) tokens as (N·h, d/h) sub-tokens (contiguous slices).
  Tensor xh = x;
  if (w_head_) {
    xh = Tensor::empty({n_tok, d}, DType::kF32, device_);
    gemm(xh, x, w_head_->value, false, false, 1.0f, 0.0f);
    add_bias(xh, b_head_->value);
  }
  items_ = xh.reshape({n_tok * h, width_});
  const int64_t s_items = n_tok * h;
  std::vector<int32_t> sub_ids;
  if (token_ids) {
    sub_ids.resize(static_cast<size_t>(s_items));
    for (int64_t t = 0; t < n_tok; ++t)
      for (int i = 0; i < h; ++i) sub_ids[t * h + i] = token_ids[t] * h + i;
  }
  {
    StepTimer t(&stats_.forward.route);
    router_->forward(routing_, items_, token_ids ? sub_ids.data() : nullptr, training,
                     *groups_.world_host);
  }
  {
    StepTimer t(&stats_.forward.plan);
    capacity_ = plan_capacity(routing_, options_, *groups_.world_host);
  }
  Tensor out = Tensor::empty({s_items, width_}, DType::kF32, device_);
  const int k = routing_.k;
  chunks_.assign(options_.chunks, Chunk{});
  for (int c = 0; c < options_.chunks; ++c) {
    Chunk& ch = chunks_[c];
    int64_t b = s_items * c / options_.chunks, e = s_items * (c + 1) / options_.chunks;
    {
      StepTimer t(&stats_.forward.plan);
      ch.plan =
          plan_exchange(routing_, capacity_, b, e, options_.num_experts, *groups_.ep_group_host);
      ch.pos = upload_i32(ch.plan.pos, e - b, k, device_);
      ch.weight = upload_f32(ch.plan.weight, e - b, k, device_);
      ch.ones = upload_f32(ch.plan.ones, e - b, k, device_);
    }
    Tensor recv_src = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
    {
      StepTimer t(&stats_.forward.dispatch);
      Tensor send = Tensor::empty({ch.plan.send_total(), width_}, DType::kF32, device_);
      gather_rows(send, items_,
                  upload_i32(ch.plan.send_item, ch.plan.send_total(), 1, device_)
                      .reshape({ch.plan.send_total()}));
      exchange_rows(recv_src, send, ch.plan.send_rows, ch.plan.recv_rows, *groups_.ep_group);
      stats_.bytes_dispatched += static_cast<int64_t>(send.nbytes());
    }
    Tensor perm = upload_i32(ch.plan.expert_major_src, ch.plan.recv_total(), 1, device_)
                      .reshape({ch.plan.recv_total()});
    Tensor ye = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
    {
      StepTimer t(&stats_.forward.experts);
      Tensor xe = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
      gather_rows(xe, recv_src, perm);
      experts_->forward(ch.acts, ye, xe, ch.plan.expert_offsets);
    }
    {
      StepTimer t(&stats_.forward.undispatch);
      scatter_rows(recv_src, ye, perm);  // back to source-major, reusing the receive buffer
      ch.returned = Tensor::empty({ch.plan.send_total(), width_}, DType::kF32, device_);
      exchange_rows(ch.returned, recv_src, ch.plan.recv_rows, ch.plan.send_rows, *groups_.ep_group);
    }
    {
      StepTimer t(&stats_.forward.combine);
      Tensor out_c = out.slice_rows(b, e);
      combine_rows(out_c, ch.returned, ch.pos, ch.weight);
      if (routing_.residual_gate) {
        // BASE: out = α·f(x) + (1 − α)·x.
        std::vector<float> one_minus(static_cast<size_t>(e - b));
        for (int64_t i = 0; i < e - b; ++i) one_minus[i] = 1.0f - routing_.weight[(b + i) * k];
        add_row_scaled(out_c, items_.slice_rows(b, e),
                       upload_f32(one_minus, e - b, 1, device_).reshape({e - b}));
      }
    }
  }
  merged_ = out.reshape({n_tok, d});
  if (w_merge_) {
    gemm(y, merged_, w_merge_->value, false, false, 1.0f, 0.0f);
    add_bias(y, b_merge_->value);
  } else {
    y.copy_from(merged_);
  }
  stats_.items_world = capacity_.items_world;
  stats_.routed_world = capacity_.routed_world;
  stats_.dropped_world = capacity_.dropped_world;
  stats_.capacity = capacity_.capacity;
  stats_.load_world = capacity_.load_world;
  stats_.activation_ratio = capacity_.activation_ratio();
  stats_.balance_loss = routing_.balance_loss;
  stats_.z_loss = routing_.z_loss;
  stats_.aux_loss = routing_.aux_loss;
}

void MoeLayer::backward(const Tensor& dx, const Tensor& dy) {
  const int64_t n_tok = x_.dim(0), d = options_.d_model;
  const int64_t s_items = items_.dim(0);
  const int k = routing_.k;
  SY_CHECK(dy.shape() == x_.shape() && dx.shape() == x_.shape(),
           "MoE layer '" << options_.name << "': backward needs dx and dy shaped like x");
  stats_.backward = MoeStepTimes{};
  // Merge projection.
  Tensor dmerged = dy;
  if (w_merge_) {
    dmerged = Tensor::empty({n_tok, d}, DType::kF32, device_);
    gemm(w_merge_->grad, merged_, dy, true, false, 1.0f, 1.0f);
    Tensor db = Tensor::empty({d}, DType::kF32, device_);
    reduce_cols(db, dy, ReduceOp::kSum);
    add_scaled(b_merge_->grad, db, 1.0f);
    gemm(dmerged, dy, w_merge_->value, false, true, 1.0f, 0.0f);
  }
  Tensor dout = dmerged.reshape({s_items, width_});
  Tensor ditems = Tensor::zeros({s_items, width_}, DType::kF32, device_);
  std::vector<float> dweight(static_cast<size_t>(s_items) * k, 0.0f);
  for (Chunk& ch : chunks_) {
    const int64_t b = ch.plan.begin, e = ch.plan.end;
    Tensor dout_c = dout.slice_rows(b, e);
    Tensor dret = Tensor::empty(ch.returned.shape(), DType::kF32, device_);
    {
      StepTimer t(&stats_.backward.combine);
      Tensor dw = Tensor::empty({e - b, k}, DType::kF32, device_);
      combine_rows_backward(dret, dw, dout_c, ch.returned, ch.pos, ch.weight);
      std::vector<float> dw_host = dw.to_vector<float>();
      if (routing_.residual_gate) {
        // out = α·y + (1 − α)·x: dα −= ⟨dout, x⟩ and dx += (1 − α)·dout.
        Tensor xdot = Tensor::empty({e - b}, DType::kF32, device_);
        row_dot(xdot, dout_c, items_.slice_rows(b, e));
        std::vector<float> xd = xdot.to_vector<float>(), one_minus(static_cast<size_t>(e - b));
        for (int64_t i = 0; i < e - b; ++i) {
          dw_host[i * k] -= xd[i];
          one_minus[i] = 1.0f - routing_.weight[(b + i) * k];
        }
        add_row_scaled(ditems.slice_rows(b, e), dout_c,
                       upload_f32(one_minus, e - b, 1, device_).reshape({e - b}));
      }
      std::copy(dw_host.begin(), dw_host.end(), dweight.begin() + b * k);
    }
    Tensor perm = upload_i32(ch.plan.expert_major_src, ch.plan.recv_total(), 1, device_)
                      .reshape({ch.plan.recv_total()});
    Tensor drecv = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
    {
      StepTimer t(&stats_.backward.undispatch);
      exchange_rows(drecv, dret, ch.plan.send_rows, ch.plan.recv_rows, *groups_.ep_group);
    }
    {
      StepTimer t(&stats_.backward.experts);
      Tensor dye = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
      gather_rows(dye, drecv, perm);
      Tensor dxe = Tensor::empty({ch.plan.recv_total(), width_}, DType::kF32, device_);
      experts_->backward(dxe, dye, ch.acts, ch.plan.expert_offsets);
      scatter_rows(drecv, dxe, perm);
    }
    Tensor dsend = Tensor::empty({ch.plan.send_total(), width_}, DType::kF32, device_);
    {
      StepTimer t(&stats_.backward.dispatch);
      exchange_rows(dsend, drecv, ch.plan.recv_rows, ch.plan.send_rows, *groups_.ep_group);
    }
    {
      StepTimer t(&stats_.backward.combine);
      // Each item's gradient is the sum of its k dispatched rows' gradients.
      Tensor dsum = Tensor::empty({e - b, width_}, DType::kF32, device_);
      combine_rows(dsum, dsend, ch.pos, ch.ones);
      add_scaled(ditems.slice_rows(b, e), dsum, 1.0f);
    }
  }
  {
    StepTimer t(&stats_.backward.route);
    router_->backward(ditems, dweight, items_);
  }
  Tensor dxh = ditems.reshape({n_tok, d});
  if (w_head_) {
    gemm(w_head_->grad, x_, dxh, true, false, 1.0f, 1.0f);
    Tensor db = Tensor::empty({d}, DType::kF32, device_);
    reduce_cols(db, dxh, ReduceOp::kSum);
    add_scaled(b_head_->grad, db, 1.0f);
    gemm(dx, dxh, w_head_->value, false, true, 1.0f, 0.0f);
  } else {
    dx.copy_from(dxh);
  }
}

}  // namespace sy
