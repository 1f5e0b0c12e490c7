// Activation recompute (RunConfig.recompute): rerunning the experts' forward (MOE_EXPERTS) or a
// whole block's forward (BLOCK) during backward gives the same loss and bitwise the same gradients
// as keeping every activation, for every family, at every ep, with and without the overlap
// scheduler's chunks (np 1, 2, 4).
#include <gtest/gtest.h>

#include "models/language_model.h"
#include "tests/model_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

using testing::families;
using testing::tokens;

struct Result {
  double loss = 0, aux = 0;
  std::vector<std::vector<float>> grads;
};

Result step(const pb::RunConfig& c, const ProcessGroups& g) {
  LanguageModel m(c, g, Device::cpu());
  const int64_t per = c.data().global_batch() / g.world->size();
  std::vector<int32_t> ids, targets;
  tokens(ids, targets, g.world->rank() * per, per, c.model().seq_len());
  m.zero_grad();
  LossReport r = m.forward(ids, targets, per, true);
  m.backward();
  Result out{r.loss, r.aux, {}};
  for (Param* p : m.params()) out.grads.push_back(p->grad.to_vector<float>());
  return out;
}

TEST(Recompute, GradientsAreBitwiseThoseOfKeepingEveryActivation) {
  auto world = testing::world();
  const int w = world->size();
  for (size_t f = 0; f < families().size(); ++f) {
    for (int chunks : {0, 2}) {
      pb::RunConfig c = families()[f];
      if (chunks && !c.model().has_moe()) continue;
      c.mutable_parallel()->set_overlap_chunks(chunks);
      for (int ep = 1; ep <= w; ++ep) {
        if (w % ep || (!c.model().has_moe() && ep > 1)) continue;
        ProcessGroups g = make_process_groups(world, ep);
        c.set_recompute(pb::NONE);
        const Result want = step(c, g);
        for (pb::Recompute mode : {pb::MOE_EXPERTS, pb::BLOCK}) {
          SCOPED_TRACE(pb::ModelFamily_Name(c.model().family()) + ", ep " + std::to_string(ep) +
                       ", chunks " + std::to_string(chunks) + ", " + pb::Recompute_Name(mode));
          c.set_recompute(mode);
          const Result got = step(c, g);
          EXPECT_EQ(got.loss, want.loss);
          EXPECT_EQ(got.aux, want.aux);
          EXPECT_EQ(got.grads, want.grads);
        }
      }
    }
  }
}

}  // namespace
}  // namespace sy
