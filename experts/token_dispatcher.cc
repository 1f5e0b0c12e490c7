#include "experts/token_dispatcher.h"

#include "comm/tensor_exchange.h"
#include "runtime/core/clock.h"
#include "runtime/core/logging.h"
#include "runtime/layers/mixed_precision.h"
#include "runtime/ops/ops.h"

namespace sy {

namespace {

// The overlap cost model's exchange timer: all-to-alls of per_peer bytes over ep, with buffers on
// the layer's device, moved as the layer moves them (staging included).
double time_exchange(Communicator& ep, Device device, size_t per_peer, int reps,
                     HostStaging* staging) {
  const int64_t n = ep.size();
  Tensor send = Tensor::zeros({n, static_cast<int64_t>(per_peer)}, DType::kU8, device);
  Tensor recv = Tensor::zeros({n, static_cast<int64_t>(per_peer)}, DType::kU8, device);
  const std::vector<size_t> one_row(static_cast<size_t>(n), 1);
  const AllToAllLayout rows = AllToAllLayout::packed(one_row, one_row);
  exchange_rows(recv, send, rows, ep, staging);  // warm-up (and staging's allocation)
  ep.barrier();
  double t0 = now_s();
  for (int i = 0; i < reps; ++i) exchange_rows(recv, send, rows, ep, staging);
  return (now_s() - t0) / reps;
}

}  // namespace

TokenDispatcher::TokenDispatcher(const MoeOptions& o, const ProcessGroups& groups, Device device,
                                 int width)
    : options_(o), groups_(groups), device_(device), width_(width) {
  SY_CHECK(o.chunks >= 1, "MoE layer '" << o.name << "': chunks must be ≥ 1");
  using X = MoeOptions::ExpertExchange;
  direct_ = o.expert_exchange == X::kDirect || (o.expert_exchange == X::kAuto && device.is_cpu());
  if (!o.overlap_auto) return;
  Communicator* ep = groups.ep_group.get();
  HostStaging* staging = &staging_;
  costs_ = measure_overlap_costs(*groups.ep_group_host, device, [=](size_t per_peer, int reps) {
    return time_exchange(*ep, device, per_peer, reps, staging);
  });
  SY_LOG0("MoE layer '" << o.name << "' overlap cost model: " << costs_.describe());
}

// ---- plan ---------------------------------------------------------------------------------------

void TokenDispatcher::plan(const Routing& routing, Experts& experts, MoePassTimes& times) {
  ScopedTimer t(&times.plan);
  const SortedChoices sorted = sort_choices(routing, options_.num_experts);
  const PlanCounts mine = read_plan_counts(sorted, routing);  // the pass's one host read
  MoeOptions o = options_;
  o.dropless = o.dropless || routing.dropless;
  capacity_ = plan_capacity(mine.counts, routing.items, routing.k, o, *groups_.world_host);
  router_sums_ = mine.router_sums;
  if (!router_sums_.empty())
    groups_.world_host->all_reduce(router_sums_.data(), router_sums_.size(), DType::kF64,
                                   CommOp::kSum);
  plan_ = plan_exchange(sorted, capacity_, options_.num_experts, *groups_.ep_group_host);
  payload_ = experts.payload_dtype();
  weight_ = routing.weight;
  if (ones_.shape() != routing.weight.shape())  // rebuilt only when the batch shape changes
    ones_ = Tensor::full(routing.weight.shape(), DType::kF32, 1.0, device_);
  make_chunks(choose_chunk_count(experts));
  const bool overlap = options_.overlap && chunks_.size() > 1;
  if (!pipeline_ || pipeline_->overlap() != overlap)
    pipeline_ = std::make_unique<ExchangePipeline>(*groups_.ep_group, device_, overlap,
                                                   options_.sync_step_timers);
  pipeline_->reset_busy();
}

int TokenDispatcher::choose_chunk_count(const Experts& experts) {
  if (!options_.overlap_auto) return options_.chunks;
  // The same n on every rank: the largest step in the ep group decides.
  double fb[2] = {experts.forward_flops(plan_.recv_total()),
                  2.0 * static_cast<double>(dispatched_bytes())};
  groups_.ep_group_host->all_reduce(fb, 2, DType::kF64, CommOp::kMax);
  return choose_chunks(costs_, fb[0], fb[1], 2, plan_.e_local);
}

void TokenDispatcher::make_chunks(int n) {
  const int e_local = plan_.e_local;
  n = std::max(1, std::min(n, e_local));
  chunks_.assign(n, Chunk{});
  for (int c = 0; c < n; ++c) {
    Chunk& ch = chunks_[c];
    ch.segments.first = e_local * c / n;
    ch.segments.last = e_local * (c + 1) / n;
    ch.row_begin = plan_.expert_offsets[ch.segments.first];
    ch.row_end = plan_.expert_offsets[ch.segments.last];
    for (int l = ch.segments.first; l <= ch.segments.last; ++l)
      ch.segments.offsets.push_back(plan_.expert_offsets[l] - ch.row_begin);
    ch.rows = plan_.layout(ch.segments.first, ch.segments.last);
    if (!direct_) continue;
    for (int l = ch.segments.first; l < ch.segments.last; ++l) {
      ch.to_experts.push_back(plan_.expert_major_layout(l));
      ch.from_experts.push_back(plan_.expert_major_layout(l, ch.row_begin).reversed());
    }
  }
}

// ---- the exchanges of a pass --------------------------------------------------------------------

// Posts the exchange recv ← send over `rows` to start once the compute queued so far is done.
ExchangePipeline::Handle TokenDispatcher::post_exchange(const Tensor& recv, const Tensor& send,
                                                        const AllToAllLayout& rows,
                                                        double* exposed) {
  Communicator* ep = groups_.ep_group.get();
  HostStaging* staging = &staging_;
  return pipeline_->post([recv, send, rows, ep, staging](
                             Stream s) { exchange_rows_on(recv, send, rows, *ep, s, *staging); },
                         pipeline_->mark(), exposed);
}

// Posts every chunk's exchange toward the experts at once: they need only the send buffer, which
// the compute queued so far has filled. Chunk c's return, posted after its experts, needs more.
// An ep group of one rank exchanges nothing: its send buffer is already the experts' input.
void TokenDispatcher::start_pass(const Tensor& send, MoePassTimes& times) {
  pass_.send = send;
  pass_.times = &times;
  pass_.arrived.clear();
  if (local_experts_only()) {
    pass_.recv = send;
    pass_.back =
        chunks_.size() == 1 ? Tensor{} : Tensor::empty(send.shape(), send.dtype(), device_);
    return;
  }
  pass_.recv = Tensor::empty({plan_.recv_total(), width_}, send.dtype(), device_);
  pass_.back = Tensor::empty({plan_.send_total(), width_}, send.dtype(), device_);
  for (const Chunk& ch : chunks_) {
    if (!direct_) {
      pass_.arrived.push_back(post_exchange(pass_.recv, send, ch.rows, &times.dispatch));
      continue;
    }
    // One exchange per local expert; the pipeline runs its jobs in order, so the chunk's last
    // exchange stands for all of them.
    ExchangePipeline::Handle last;
    for (const AllToAllLayout& l : ch.to_experts)
      last = post_exchange(pass_.recv, send, l, &times.dispatch);
    pass_.arrived.push_back(last);
  }
}

// Chunk c's rows, expert-major: a view of the receive buffer where they arrived in place (one
// rank's send buffer is expert-major already: its one source sends expert by expert), else
// gathered from arrival order.
ExpertRows TokenDispatcher::receive(int c) {
  const Chunk& ch = chunks_.at(static_cast<size_t>(c));
  if (local_experts_only()) return {pass_.recv.slice_rows(ch.row_begin, ch.row_end), ch.segments};
  if (pass_.arrived[c].index >= 0) pipeline_->wait(pass_.arrived[c]);
  if (direct_) return {pass_.recv.slice_rows(ch.row_begin, ch.row_end), ch.segments};
  ScopedTimer t(&pass_.times->dispatch, sync_timers());
  ExpertRows in{Tensor::empty({ch.row_end - ch.row_begin, width_}, payload_, device_), ch.segments};
  gather_rows(in.rows, pass_.recv, plan_.expert_major_src.slice_rows(ch.row_begin, ch.row_end));
  return in;
}

void TokenDispatcher::send_back(int c, const Tensor& rows) {
  const Chunk& ch = chunks_.at(static_cast<size_t>(c));
  if (local_experts_only()) {  // in send order already: the rows are the returned ones
    if (chunks_.size() == 1) {
      pass_.back = rows;
    } else {
      ScopedTimer t(&pass_.times->undispatch, sync_timers());
      pass_.back.slice_rows(ch.row_begin, ch.row_end).copy_from(rows);
    }
    return;
  }
  if (direct_) {  // straight from the experts' rows (chunk-relative) to send order
    for (const AllToAllLayout& l : ch.from_experts)
      post_exchange(pass_.back, rows, l, &pass_.times->undispatch);
    return;
  }
  {
    // Back to arrival order, over this chunk's rows of the receive buffer.
    ScopedTimer t(&pass_.times->undispatch, sync_timers());
    scatter_rows(pass_.recv, rows, plan_.expert_major_src.slice_rows(ch.row_begin, ch.row_end));
  }
  post_exchange(pass_.back, pass_.recv, ch.rows.reversed(), &pass_.times->undispatch);
}

Tensor TokenDispatcher::finish_pass() {
  pipeline_->join();
  Tensor back = pass_.back;
  pass_ = Pass{};
  return back;
}

// ---- forward ------------------------------------------------------------------------------------

void TokenDispatcher::dispatch(const Tensor& items, MoePassTimes& times) {
  Tensor send = Tensor::empty({plan_.send_total(), width_}, payload_, device_);
  {
    ScopedTimer t(&times.dispatch, sync_timers());
    gather_rows(send, as_compute(items, payload_), plan_.send_item);
  }
  start_pass(send, times);
}

void TokenDispatcher::combine(const Tensor& out, MoePassTimes& times) {
  returned_ = finish_pass();
  ScopedTimer t(&times.combine, sync_timers());
  combine_rows(out, returned_, plan_.pos, weight_);
}

// ---- backward -----------------------------------------------------------------------------------

Tensor TokenDispatcher::combine_backward(const Tensor& dout, MoePassTimes& times) {
  ScopedTimer t(&times.combine, sync_timers());
  Tensor dret = Tensor::empty(returned_.shape(), returned_.dtype(), device_);
  Tensor dw = Tensor::empty(weight_.shape(), DType::kF32, device_);
  combine_rows_backward(dret, dw, dout, returned_, plan_.pos, weight_);
  pass_.send = dret;
  return dw;
}

void TokenDispatcher::dispatch_gradients(MoePassTimes& times) {
  start_pass(pass_.send, times);
}

void TokenDispatcher::uncombine(const Tensor& ditems, MoePassTimes& times) {
  Tensor dsend = finish_pass();
  ScopedTimer t(&times.combine, sync_timers());
  // Each item's gradient is the sum of its k dispatched rows' gradients.
  Tensor dsum = Tensor::empty(ditems.shape(), DType::kF32, device_);
  combine_rows(dsum, dsend, plan_.pos, ones_);
  add_scaled(ditems, dsum, 1.0f);
}

}  // namespace sy
