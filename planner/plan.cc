#include "planner/plan.h"

namespace sy {

namespace {

// Whether the overlap scheduler has anything to pipeline: ≥ 2 local experts in some MoE layer
// of an ep group of several ranks (it slices the local experts).
bool pipelines(const ModelCost& m, int ep) {
  for (const BlockCost& b : m.blocks)
    for (const MoeCost& moe : b.moes)
      if (ep > 1 && moe.num_experts / ep >= 2) return true;
  return false;
}

// The largest global batch (a multiple of the world, at most the config's) whose step fits.
int largest_fitting_batch(const ModelCost& m, pb::RunConfig c, const Cluster& cl,
                          const pb::HardwareProfile& hw, const PlanChoice& choice) {
  for (int gb = c.data().global_batch() / cl.world() * cl.world(); gb >= cl.world();
       gb -= cl.world()) {
    c.mutable_data()->set_global_batch(gb);
    if (project_step(m, c, cl, hw, choice).fits) return gb;
  }
  return 0;
}

}  // namespace

std::vector<PlanChoice> plan_choices(const ModelCost& m, const pb::RunConfig& c,
                                     const Cluster& cl) {
  std::vector<PlanChoice> out;
  for (int ep = 1; ep <= cl.world(); ep *= 2) {
    if (!why_invalid(m, c, cl, PlanChoice{ep, pb::FLAT, false}).empty()) continue;
    const GroupSpan span = ep_group_span(ep, cl.gpus_per_node);
    std::vector<pb::AllToAllAlgorithm> a2a = {pb::FLAT};
    if (span.nodes > 1 && span.per_node > 1) a2a.push_back(pb::HIERARCHICAL);
    for (pb::AllToAllAlgorithm a : a2a)
      for (bool overlap : {false, true})
        if (!overlap || pipelines(m, ep)) out.push_back(PlanChoice{ep, a, overlap});
  }
  return out;
}

std::vector<StepProjection> compare_choices(const ModelCost& m, const pb::RunConfig& c,
                                            const Cluster& cl, const pb::HardwareProfile& hw) {
  std::vector<StepProjection> out;
  for (const PlanChoice& choice : plan_choices(m, c, cl))
    out.push_back(project_step(m, c, cl, hw, choice));
  return out;
}

FitAdvice fit_advice(const ModelCost& m, const pb::RunConfig& c, const Cluster& cl,
                     const pb::HardwareProfile& hw, const PlanChoice& choice) {
  FitAdvice a;
  a.global_batch = largest_fitting_batch(m, c, cl, hw, choice);
  pb::RunConfig block = c;
  block.set_recompute(pb::BLOCK);
  a.global_batch_recompute_block = largest_fitting_batch(m, block, cl, hw, choice);
  return a;
}

int recommend(const std::vector<StepProjection>& p) {
  int best = -1;
  bool any_fits = false;
  for (const StepProjection& s : p) any_fits = any_fits || s.fits;
  for (int i = 0; i < static_cast<int>(p.size()); ++i) {
    if (any_fits && !p[i].fits) continue;
    if (best < 0) {
      best = i;
      continue;
    }
    // Choices come in increasing ep, FLAT first, overlap off first: a later one must be clearly
    // better to win.
    const bool better = any_fits ? p[i].time.step < 0.99 * p[best].time.step
                                 : p[i].memory.total() < 0.99 * p[best].memory.total();
    if (better) best = i;
  }
  return best;
}

}  // namespace sy
