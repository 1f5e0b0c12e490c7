#include "runtime/train/grad_reducer.h"

#include "comm/tensor_exchange.h"

namespace sy {

struct GradReducer::GroupState {
  FlatGroup* flat = nullptr;
  Communicator* comm = nullptr;
  std::unique_ptr<ExchangePipeline> pipeline;
  HostStaging staging;              // used by the pipeline's jobs only
  std::vector<int> bucket_of_slot;  // slot → bucket
  std::vector<int> missing;         // per bucket: slots not yet done this step
  int next = 0;                     // the next bucket to post
};

GradComms split_grad_comms(const ProcessGroups& groups) {
  const int r = groups.world->rank();
  GradComms c;
  c.dense = groups.world->split(0, r, groups.world->name() + "/grads");
  c.expert = groups.edp_group->split(0, r, groups.edp_group->name() + "/grads");
  return c;
}

GradReducer::GradReducer(FlatParams& flat, GradComms comms, GradReduceOptions options)
    : flat_(flat), comms_(std::move(comms)), options_(options) {
  for (FlatGroup& fg : flat_.groups()) {
    auto g = std::make_unique<GroupState>();
    g->flat = &fg;
    g->comm = fg.expert ? comms_.expert.get() : comms_.dense.get();
    SY_CHECK(g->comm, "GradReducer: no communicator for the " << (fg.expert ? "expert" : "dense")
                                                              << " gradients");
    g->pipeline = std::make_unique<ExchangePipeline>(*g->comm, flat_.device(),
                                                     options_.bucketed && options_.overlap);
    for (size_t b = 0; b < fg.buckets.size(); ++b)
      for (int s = 0; s < fg.buckets[b].slots; ++s)
        g->bucket_of_slot.push_back(static_cast<int>(b));
    groups_.push_back(std::move(g));
  }
  begin_step();
}

GradReducer::~GradReducer() = default;

void GradReducer::begin_step() {
  posted_ = 0;
  for (auto& g : groups_) {
    g->missing.clear();
    for (const GradBucket& b : g->flat->buckets) g->missing.push_back(b.slots);
    g->next = 0;
  }
}

void GradReducer::ready(const std::vector<Param*>& params) {
  for (const Param* p : params) {
    auto [gi, si] = flat_.locate(p);
    GroupState& g = *groups_[gi];
    int& missing = g.missing[g.bucket_of_slot[si]];
    SY_CHECK(missing > 0,
             "GradReducer: parameter '" << p->name << "' was reported done twice in one step");
    --missing;
  }
  if (!options_.bucketed || !options_.overlap) return;
  for (auto& g : groups_) post_ready_buckets(*g);
}

void GradReducer::post_ready_buckets(GroupState& g) {
  while (g.next < static_cast<int>(g.missing.size()) && g.missing[g.next] == 0)
    post_bucket(g, g.next++);
}

void GradReducer::post_bucket(GroupState& g, int bucket) {
  const GradBucket& b = g.flat->buckets[bucket];
  Tensor grads = g.flat->grads.slice_rows(b.begin, b.end);
  Communicator* comm = g.comm;
  HostStaging* staging = &g.staging;
  g.pipeline->post(
      [grads, comm, staging](Stream s) { all_reduce_sum_on(grads, *comm, s, *staging); },
      g.pipeline->mark());
  ++posted_;
}

void GradReducer::reduce_per_parameter(GroupState& g) {
  for (const FlatSlot& s : g.flat->slots) all_reduce_sum(s.param->grad, *g.comm);
}

void GradReducer::finish() {
  for (auto& g : groups_) {
    if (!options_.bucketed) {
      reduce_per_parameter(*g);
      continue;
    }
    while (g->next < static_cast<int>(g->missing.size())) post_bucket(*g, g->next++);
  }
  for (auto& g : groups_) {
    if (!options_.bucketed) continue;
    g->pipeline->join();
    g->pipeline->confirm();
  }
}

}  // namespace sy
