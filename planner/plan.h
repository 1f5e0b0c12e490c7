// `switchyard plan`: every ep / all-to-all / overlap choice a config can run with on a cluster,
// projected (step_projection.h), and the one to use.
#pragma once

#include <vector>

#include "planner/step_projection.h"

namespace sy {

// The valid choices: ep over the powers of two dividing the world and every layer's experts (1
// for a dense model), HIERARCHICAL beside FLAT where the ep group spans ≥ 2 nodes of ≥ 2 of its
// ranks, and the overlap scheduler off and on where it has ≥ 2 local experts to pipeline.
std::vector<PlanChoice> plan_choices(const ModelCost& model, const pb::RunConfig& config,
                                     const Cluster& cluster);

// The projections of every valid choice, in plan_choices order.
std::vector<StepProjection> compare_choices(const ModelCost& model, const pb::RunConfig& config,
                                            const Cluster& cluster, const pb::HardwareProfile& hw);

// The index of the recommended projection: the fastest step among those that fit in memory (the
// smaller ep, then FLAT, then no overlap on ties within 1%); the one needing the least memory
// when none fits. -1 when there is none.
int recommend(const std::vector<StepProjection>& projections);

// When `choice` does not fit: the largest global batch (a multiple of the world) that does, with
// the config's recompute setting and with recompute BLOCK; 0 where none does.
struct FitAdvice {
  int global_batch = 0, global_batch_recompute_block = 0;
};
FitAdvice fit_advice(const ModelCost& model, const pb::RunConfig& config, const Cluster& cluster,
                     const pb::HardwareProfile& hw, const PlanChoice& choice);

}  // namespace sy
