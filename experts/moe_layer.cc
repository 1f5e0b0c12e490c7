#include "experts/moe_layer.h"

#include <cmath>

#include "experts/structured_experts.h"
#include "experts/tensor_exchange.h"
#include "runtime/core/clock.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

// Adds the host time of a scope to *into (nothing when into is null). sync: on a GPU, first and
// last waits for the compute stream, so that the time is the step's own (MoeOptions::
// sync_step_timers; off in training).
class StepTimer {
 public:
  explicit StepTimer(double* into, bool sync = false) : into_(into), sync_(sync && into) {
    if (sync_) backend(DeviceType::kCUDA).synchronize(Stream{});
    t0_ = now_s();
  }
  ~StepTimer() {
    if (!into_) return;
    if (sync_) {
      try {
        backend(DeviceType::kCUDA).synchronize(Stream{});
      } catch (...) {  // a failed kernel: the next checked call reports it
      }
    }
    *into_ += now_s() - t0_;
  }

 private:
  double* into_;
  bool sync_;
  double t0_ = 0;
};

Tensor upload_i32(const std::vector<int32_t>& v, int64_t rows, int64_t cols, Device d) {
  return Tensor::from_vector(v, {rows, cols}).to(d);
}

// The overlap cost model's exchange timer: all-to-alls of per_peer bytes over ep, with buffers on
// the layer's device.
double time_exchange(Communicator& ep, Device device, size_t per_peer, int reps,
                     HostStaging* staging) {
  const int64_t n = ep.size();
  Tensor send = Tensor::zeros({n, static_cast<int64_t>(per_peer)}, DType::kU8, device);
  Tensor recv = Tensor::zeros({n, static_cast<int64_t>(per_peer)}, DType::kU8, device);
  std::vector<size_t> rows(static_cast<size_t>(n), 1);
  exchange_rows(recv, send, rows, rows, ep, staging);  // warm-up (and staging's allocation)
  ep.barrier();
  double t0 = now_s();
  for (int i = 0; i < reps; ++i) exchange_rows(recv, send, rows, rows, ep, staging);
  return (now_s() - t0) / reps;
}

Tensor upload_f32(const std::vector<float>& v, int64_t rows, int64_t cols, Device d) {
  return Tensor::from_vector(v, {rows, cols}).to(d);
}

}  // namespace

MoeLayer::MoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device)
    : MoeLayer(o, groups, device, nullptr, nullptr) {}

MoeLayer::MoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device,
                   std::unique_ptr<Router> router, std::unique_ptr<Experts> experts)
    : options_(o), groups_(groups), device_(device) {
  SY_CHECK(o.num_heads >= 1 && o.d_model % o.num_heads == 0,
           "MoE layer '" << o.name << "': num_heads = " << o.num_heads
                         << " must divide d_model = " << o.d_model);
  int ep = groups.ep_group->size();
  SY_CHECK(o.num_experts % ep == 0, "MoE layer '" << o.name << "': E = " << o.num_experts
                                                  << " experts are not divisible by ep = " << ep);
  SY_CHECK(o.chunks >= 1, "MoE layer '" << o.name << "': chunks must be ≥ 1");
  if (o.overlap_auto) {
    Communicator* ep = groups.ep_group.get();
    HostStaging* staging = &staging_;
    costs_ = measure_overlap_costs(*groups.ep_group_host, device, [=](size_t per_peer, int reps) {
      return time_exchange(*ep, device, per_peer, reps, staging);
    });
    SY_LOG0("MoE layer '" << o.name << "' overlap cost model: " << costs_.describe());
  }
  width_ = o.item_width();
  int e_local = o.num_experts / ep;
  first_expert_ = groups.ep_group->rank() * e_local;
  router_ = router ? std::move(router) : make_router(o, width_, device);
  if (experts) {
    experts_ = std::move(experts);
  } else if (o.expert == pb::BLOCKDIAG || o.expert == pb::MONARCH) {
    experts_ = std::make_unique<StructuredExperts>(o, width_, first_expert_, e_local, device);
  } else {
    experts_ = std::make_unique<ExpertFFN>(o, width_, first_expert_, e_local, device);
  }
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

void MoeLayer::make_chunks(int n) {
  const int e_local = plan_.e_local;
  n = std::max(1, std::min(n, e_local));
  chunks_.assign(n, Chunk{});
  for (int c = 0; c < n; ++c) {
    Chunk& ch = chunks_[c];
    ch.lb = e_local * c / n;
    ch.le = e_local * (c + 1) / n;
    ch.row_begin = plan_.expert_offsets[ch.lb];
    ch.row_end = plan_.expert_offsets[ch.le];
    for (int l = ch.lb; l <= ch.le; ++l)
      ch.offsets.push_back(plan_.expert_offsets[l] - ch.row_begin);
    ch.layout = plan_.layout(ch.lb, ch.le);
  }
}

void MoeLayer::start_pipeline(bool overlap) {
  if (!pipeline_ || pipeline_->overlap() != overlap)
    pipeline_ = std::make_unique<ExchangePipeline>(*groups_.ep_group, device_, overlap);
}

// Posts the exchange recv ← send over `layout` to start once the marked compute is done. Timed
// as a whole (the exchange itself) when it runs inline; with overlap, wait() times the exposure.
ExchangePipeline::Handle MoeLayer::post_exchange(const Tensor& recv, const Tensor& send,
                                                 const RowLayout& layout,
                                                 ExchangePipeline::Mark after, double* seconds) {
  StepTimer t(pipeline_->overlap() ? nullptr : seconds, sync_timers());
  Communicator* ep = groups_.ep_group.get();
  HostStaging* staging = &staging_;
  return pipeline_->post([recv, send, layout, ep, staging](
                             Stream s) { exchange_rows_on(recv, send, layout, *ep, s, *staging); },
                         after);
}

// Posts every chunk's exchange toward the experts at once: they need only the send buffer, which
// the compute queued so far has filled. Chunk c's return, posted after its experts, needs more.
std::vector<ExchangePipeline::Handle> MoeLayer::post_dispatches(const Tensor& recv,
                                                                const Tensor& send,
                                                                double* seconds) {
  const ExchangePipeline::Mark sent = pipeline_->mark();
  std::vector<ExchangePipeline::Handle> arrived;
  for (const Chunk& ch : chunks_)
    arrived.push_back(post_exchange(recv, send, ch.layout, sent, seconds));
  return arrived;
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
  const int k = routing_.k;
  {
    StepTimer t(&stats_.forward.plan);
    capacity_ = plan_capacity(routing_, options_, *groups_.world_host);
    plan_ = plan_exchange(routing_, capacity_, options_.num_experts, *groups_.ep_group_host);
    pos_ = upload_i32(plan_.pos, s_items, k, device_);
    weight_ = upload_f32(plan_.weight, s_items, k, device_);
    ones_ = upload_f32(plan_.ones, s_items, k, device_);
    perm_ = upload_i32(plan_.expert_major_src, plan_.recv_total(), 1, device_)
                .reshape({plan_.recv_total()});
    int n = options_.chunks;
    if (options_.overlap_auto) {
      // The same n on every rank: the largest step in the ep group decides.
      double fb[2] = {experts_->forward_flops(plan_.recv_total()),
                      2.0 * static_cast<double>(plan_.send_total()) * width_ * sizeof(float)};
      groups_.ep_group_host->all_reduce(fb, 2, DType::kF64, CommOp::kMax);
      n = choose_chunks(costs_, fb[0], fb[1], 2, plan_.e_local);
    }
    make_chunks(n);
    stats_.chunks = static_cast<int>(chunks_.size());
  }
  start_pipeline(options_.overlap && chunks_.size() > 1);
  ExchangePipeline& pipe = *pipeline_;
  pipe.reset_busy();
  Tensor send = Tensor::empty({plan_.send_total(), width_}, DType::kF32, device_);
  Tensor recv = Tensor::empty({plan_.recv_total(), width_}, DType::kF32, device_);
  returned_ = Tensor::empty({plan_.send_total(), width_}, DType::kF32, device_);
  {
    StepTimer t(&stats_.forward.dispatch, sync_timers());
    gather_rows(
        send, items_,
        upload_i32(plan_.send_item, plan_.send_total(), 1, device_).reshape({plan_.send_total()}));
    stats_.bytes_dispatched = static_cast<int64_t>(send.nbytes());
  }
  const int n = static_cast<int>(chunks_.size());
  std::vector<ExchangePipeline::Handle> arrived =
      post_dispatches(recv, send, &stats_.forward.dispatch);
  for (int c = 0; c < n; ++c) {
    Chunk& ch = chunks_[c];
    pipe.wait(arrived[c], pipe.overlap() ? &stats_.forward.dispatch : nullptr);
    {
      StepTimer t(&stats_.forward.experts, sync_timers());
      notify("experts_forward", c, true);
      int64_t rows = ch.row_end - ch.row_begin;
      Tensor xe = Tensor::empty({rows, width_}, DType::kF32, device_);
      Tensor ye = Tensor::empty({rows, width_}, DType::kF32, device_);
      gather_rows(xe, recv, perm_.slice_rows(ch.row_begin, ch.row_end));
      experts_->forward(ch.acts, ye, xe, ch.offsets, ch.lb, ch.le);
      // Back to source-major, over this chunk's rows of the receive buffer.
      scatter_rows(recv, ye, perm_.slice_rows(ch.row_begin, ch.row_end));
      notify("experts_forward", c, false);
    }
    post_exchange(returned_, recv, ch.layout.reversed(), pipe.mark(), &stats_.forward.undispatch);
  }
  pipe.join(pipe.overlap() ? &stats_.forward.undispatch : nullptr);
  stats_.exchange_busy = pipe.busy_seconds();
  Tensor out = Tensor::empty({s_items, width_}, DType::kF32, device_);
  {
    StepTimer t(&stats_.forward.combine, sync_timers());
    combine_rows(out, returned_, pos_, weight_);
    if (routing_.residual_gate) {
      // BASE: out = α·f(x) + (1 − α)·x.
      one_minus_alpha_ = one_minus_alpha();
      add_row_scaled(out, items_, one_minus_alpha_);
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
  pipeline_->confirm();
}

Tensor MoeLayer::one_minus_alpha() const {
  std::vector<float> v(static_cast<size_t>(routing_.items));
  for (int64_t i = 0; i < routing_.items; ++i) v[i] = 1.0f - routing_.weight[i * routing_.k];
  return upload_f32(v, routing_.items, 1, device_).reshape({routing_.items});
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
  std::vector<float> dweight;
  Tensor dret = Tensor::empty(returned_.shape(), DType::kF32, device_);
  {
    StepTimer t(&stats_.backward.combine, sync_timers());
    Tensor dw = Tensor::empty({s_items, k}, DType::kF32, device_);
    combine_rows_backward(dret, dw, dout, returned_, pos_, weight_);
    dweight = dw.to_vector<float>();
    if (routing_.residual_gate) {
      // out = α·y + (1 − α)·x: dα −= ⟨dout, x⟩ and dx += (1 − α)·dout.
      Tensor xdot = Tensor::empty({s_items}, DType::kF32, device_);
      row_dot(xdot, dout, items_);
      std::vector<float> xd = xdot.to_vector<float>();
      for (int64_t i = 0; i < s_items; ++i) dweight[i * k] -= xd[i];
      add_row_scaled(ditems, dout, one_minus_alpha_);
    }
  }
  Tensor drecv = Tensor::empty({plan_.recv_total(), width_}, DType::kF32, device_);
  Tensor dsend = Tensor::empty({plan_.send_total(), width_}, DType::kF32, device_);
  ExchangePipeline& pipe = *pipeline_;
  const int n = static_cast<int>(chunks_.size());
  std::vector<ExchangePipeline::Handle> arrived =
      post_dispatches(drecv, dret, &stats_.backward.dispatch);
  for (int c = 0; c < n; ++c) {
    Chunk& ch = chunks_[c];
    pipe.wait(arrived[c], pipe.overlap() ? &stats_.backward.dispatch : nullptr);
    int64_t rows = ch.row_end - ch.row_begin;
    Tensor dye = Tensor::empty({rows, width_}, DType::kF32, device_);
    {
      StepTimer t(&stats_.backward.experts, sync_timers());
      notify("experts_backward", c, true);
      Tensor dxe = Tensor::empty({rows, width_}, DType::kF32, device_);
      gather_rows(dye, drecv, perm_.slice_rows(ch.row_begin, ch.row_end));
      experts_->backward_data(dxe, dye, ch.acts, ch.offsets, ch.lb, ch.le);
      scatter_rows(drecv, dxe, perm_.slice_rows(ch.row_begin, ch.row_end));
    }
    // dx goes back while this chunk's weight gradients are computed.
    post_exchange(dsend, drecv, ch.layout.reversed(), pipe.mark(), &stats_.backward.undispatch);
    {
      StepTimer t(&stats_.backward.experts, sync_timers());
      experts_->backward_weights(dye, ch.acts, ch.offsets, ch.lb, ch.le);
      ch.acts = ExpertActivations{};  // free the chunk's activations
      notify("experts_backward", c, false);
    }
  }
  pipe.join(pipe.overlap() ? &stats_.backward.undispatch : nullptr);
  stats_.exchange_busy = pipe.busy_seconds();  // forward's and backward's
  {
    StepTimer t(&stats_.backward.combine, sync_timers());
    // Each item's gradient is the sum of its k dispatched rows' gradients.
    Tensor dsum = Tensor::empty({s_items, width_}, DType::kF32, device_);
    combine_rows(dsum, dsend, pos_, ones_);
    add_scaled(ditems, dsum, 1.0f);
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
  pipeline_->confirm();
}

}  // namespace sy
