#include "experts/moe_layer.h"

#include "experts/expert_cost.h"
#include "runtime/core/clock.h"

namespace sy {

MoeLayer::MoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device)
    : MoeLayer(o, groups, device, nullptr, nullptr) {}

MoeLayer::MoeLayer(const MoeOptions& o, const ProcessGroups& groups, Device device,
                   std::unique_ptr<Router> router, std::unique_ptr<Experts> experts)
    : options_(o),
      groups_(groups),
      device_(device),
      range_(groups.expert_range(o.num_experts)),
      router_(router ? std::move(router) : make_router(o, o.item_width(), device)),
      experts_(experts ? std::move(experts) : make_experts(o, o.item_width(), range_, device)),
      dispatcher_(o, groups, device, o.item_width()) {
  for (Param* p : router_->params()) p->keep_fp32 = true;  // routing stays fp32 in mixed precision
}

std::vector<Param*> MoeLayer::params() {
  std::vector<Param*> out = router_->params();
  for (Param* p : experts_->params()) out.push_back(p);
  return out;
}

double MoeLayer::forward_flops_per_token() const {
  // The experts' own count: a feature MoE's SGU experts are not a token-MoE kind.
  return router_flops_per_item(options_) + options_.top_k * experts_->forward_flops(1);
}

// ---- forward ------------------------------------------------------------------------------------

void MoeLayer::forward(const Tensor& y, const Tensor& x, const int32_t* item_ids, bool training) {
  const int w = options_.item_width();
  SY_CHECK(x.ndim() == 2 && x.dim(1) == w && y.shape() == x.shape(),
           "MoE layer '" << options_.name << "': x and y must be (S, " << w << "), got "
                         << shape_str(x.shape()) << " and " << shape_str(y.shape()));
  forward_times_ = backward_times_ = MoePassTimes{};
  const int64_t syncs = host_syncs();
  x_ = x;
  route(x, item_ids, training);
  plan();
  dispatcher_.dispatch(x, forward_times_);
  saved_.clear();
  saved_.resize(static_cast<size_t>(dispatcher_.chunks()));
  expert_inputs_.assign(static_cast<size_t>(dispatcher_.chunks()), ExpertRows{});
  for (int c = 0; c < dispatcher_.chunks(); ++c) experts_forward(c);
  combine(y, x);
  dispatcher_.confirm();
  record_times();
  stats_.set_host_syncs_forward(static_cast<int32_t>(host_syncs() - syncs));
}

void MoeLayer::route(const Tensor& x, const int32_t* item_ids, bool training) {
  ScopedTimer t(&forward_times_.route);
  router_->forward(routing_, x, item_ids, training, *groups_.world_host);
}

// The dispatch plan, then the router's losses from the sums it read (summed over the world).
void MoeLayer::plan() {
  dispatcher_.plan(routing_, *experts_, forward_times_);
  router_->reduce(routing_, dispatcher_.router_sums(), capacity_plan().items_world);
  record_plan();
}

void MoeLayer::experts_forward(int c) {
  ExpertRows in = dispatcher_.receive(c);
  Tensor out = Tensor::empty(in.rows.shape(), in.rows.dtype(), device_);
  {
    ScopedTimer t(&forward_times_.experts, sync_timers());
    notify("experts_forward", c, true);
    experts_->forward(out, saved_[c], in.rows, in.segments);
    notify("experts_forward", c, false);
  }
  dispatcher_.send_back(c, out);
  if (options_.recompute_experts) {  // keep the input; backward recomputes the rest
    expert_inputs_[c] = in;
    saved_[c].reset();
  }
}

// With recompute_experts: the chunk's forward again, from its kept input, for its saved state.
void MoeLayer::recompute_experts(int c) {
  const ExpertRows& in = expert_inputs_.at(static_cast<size_t>(c));
  SY_CHECK(in.rows.defined() && in.rows.rows() == in.segments.rows(),
           "MoE layer '" << options_.name << "': backward without a forward to recompute");
  Tensor out = Tensor::empty(in.rows.shape(), in.rows.dtype(), device_);
  experts_->forward(out, saved_[c], in.rows, in.segments);
  expert_inputs_[c] = ExpertRows{};
}

// y = Σ_j w_j · expert_j(x) + the router's bypass (BASE: (1 − α)·x).
void MoeLayer::combine(const Tensor& y, const Tensor& x) {
  dispatcher_.combine(y, forward_times_);
  ScopedTimer t(&forward_times_.combine, sync_timers());
  router_->add_bypass(y, x);
}

// ---- backward -----------------------------------------------------------------------------------

void MoeLayer::backward(const Tensor& dx, const Tensor& dy) {
  SY_CHECK(dy.shape() == x_.shape() && dx.shape() == x_.shape(),
           "MoE layer '" << options_.name << "': backward needs dx and dy shaped like x");
  backward_times_ = MoePassTimes{};
  const int64_t syncs = host_syncs();
  const Tensor dweight = combine_backward(dx, dy);
  dispatcher_.dispatch_gradients(backward_times_);
  for (int c = 0; c < dispatcher_.chunks(); ++c) experts_backward(c);
  dispatcher_.uncombine(dx, backward_times_);
  route_backward(dx, dweight);
  dispatcher_.confirm();
  record_times();
  stats_.set_host_syncs_backward(static_cast<int32_t>(host_syncs() - syncs));
}

// dx = the bypass's gradient (0 without one); returns the gate weights' gradient.
Tensor MoeLayer::combine_backward(const Tensor& dx, const Tensor& dy) {
  Tensor dweight = dispatcher_.combine_backward(dy, backward_times_);
  ScopedTimer t(&backward_times_.combine, sync_timers());
  dx.fill(0.0);
  router_->bypass_backward(dx, dweight, dy, x_);
  return dweight;
}

// dx of chunk c goes back while its weight gradients are computed.
void MoeLayer::experts_backward(int c) {
  ExpertRows dout = dispatcher_.receive(c);
  Tensor din = Tensor::empty(dout.rows.shape(), dout.rows.dtype(), device_);
  {
    ScopedTimer t(&backward_times_.experts, sync_timers());
    notify("experts_backward", c, true);
    if (!saved_[c]) recompute_experts(c);
    experts_->backward_data(din, *saved_[c], dout.rows, dout.segments);
  }
  dispatcher_.send_back(c, din);
  ScopedTimer t(&backward_times_.experts, sync_timers());
  experts_->backward_weights(*saved_[c], dout.rows, dout.segments);
  saved_[c].reset();  // free the chunk's activations
  notify("experts_backward", c, false);
}

void MoeLayer::route_backward(const Tensor& dx, const Tensor& dweight) {
  ScopedTimer t(&backward_times_.route);
  router_->backward(dx, dweight, x_);
}

// ---- statistics ---------------------------------------------------------------------------------

namespace {

void set_times(pb::MoeStepTimes* out, const MoePassTimes& t) {
  out->set_route_ms(1e3 * t.route);
  out->set_plan_ms(1e3 * t.plan);
  out->set_dispatch_ms(1e3 * t.dispatch);
  out->set_experts_ms(1e3 * t.experts);
  out->set_undispatch_ms(1e3 * t.undispatch);
  out->set_combine_ms(1e3 * t.combine);
}

}  // namespace

// The call's plan: counts over the world, chunks, bytes, the router's losses.
void MoeLayer::record_plan() {
  const CapacityPlan& cap = capacity_plan();
  pb::MoeLayerStats& s = stats_;
  s.Clear();
  s.set_layer(options_.name);
  s.set_items_world(static_cast<int32_t>(cap.items_world));
  s.set_routed_world(static_cast<int32_t>(cap.routed_world));
  s.set_dropped_world(static_cast<int32_t>(cap.dropped_world));
  s.set_capacity(static_cast<int32_t>(cap.capacity));
  s.set_drop_rate(cap.routed_world ? double(cap.dropped_world) / double(cap.routed_world) : 0.0);
  s.set_activation_ratio(cap.activation_ratio());
  for (int64_t l : cap.load_world) s.add_load(static_cast<int32_t>(l));
  for (int64_t n : cap.selected_world) s.add_selected(n);
  s.set_chunks(dispatcher_.chunks());
  s.set_overlapped(dispatcher_.overlapped());
  s.set_dispatched_mib(static_cast<double>(dispatcher_.dispatched_bytes()) / (1 << 20));
  s.set_balance_loss(routing_.balance_loss);
  s.set_z_loss(routing_.z_loss);
  s.set_aux_loss(routing_.aux_loss);
}

// The times so far: forward's, and backward's once it has run.
void MoeLayer::record_times() {
  const MoePassTimes &f = forward_times_, &b = backward_times_;
  set_times(stats_.mutable_forward(), f);
  set_times(stats_.mutable_backward(), b);
  stats_.set_a2a_ms(1e3 * (f.dispatch + f.undispatch + b.dispatch + b.undispatch));
  stats_.set_experts_ms(1e3 * (f.experts + b.experts));
  stats_.set_exchange_ms(1e3 * dispatcher_.busy_seconds());
}

}  // namespace sy
