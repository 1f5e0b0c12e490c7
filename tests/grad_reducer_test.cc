// The data-parallel gradient path (runtime/train/flat_params.h, grad_reducer.h): parameters as
// views of flat buffers; bucketed reduction — overlapped with backward or after it — against one
// all-reduce per parameter, for dense and MoE families at every ep (np 1, 2, 4); a bucket's
// all-reduce entered while backward is still running (an order, observed by an instrumented
// communicator, not a timing).
//
// Tolerance: with one or two ranks an elementwise sum is a + b whatever the message size, so the
// gradients and the updated parameters are bitwise equal. With four ranks the MPI library may pick
// a different reduction algorithm (and order) for a bucket than for a single parameter: the
// gradients then agree to 1e-6 of their largest magnitude and the updated weights to 1e-3 of the
// learning rate (with Open MPI 4.1 at these sizes they are in fact bitwise equal too).
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

#include "comm/forwarding_communicator.h"
#include "models/language_model.h"
#include "runtime/train/grad_reducer.h"
#include "runtime/train/optimizer.h"
#include "tests/model_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

using testing::families;
using testing::tokens;

std::vector<float> floats(const Tensor& t) {
  return t.to_vector<float>();
}

TEST(FlatParams, ParamsBecomeAlignedViewsInBackwardOrderAndBucketsCoverTheBuffer) {
  Param a("a", {3, 5}, Device::cpu()), b("b", {7}, Device::cpu()),
      e("e", {2, 40}, Device::cpu(), true), c("c", {100}, Device::cpu());
  a.value.fill(1.0);
  c.value.fill(3.0);
  FlatParams flat({&a, &b, &e, &c}, 512);  // 128 floats a bucket, padding included
  ASSERT_EQ(flat.groups().size(), 2u);
  const FlatGroup& dense = flat.groups()[0];
  EXPECT_FALSE(dense.expert);
  ASSERT_EQ(dense.slots.size(), 3u);
  EXPECT_EQ(dense.slots[0].param, &c);  // the reverse of the model's order
  EXPECT_EQ(dense.slots[2].param, &a);
  for (const FlatSlot& s : dense.slots) {
    EXPECT_EQ(s.offset % FlatParams::kAlign, 0);
    EXPECT_EQ(s.param->value.raw(), static_cast<float*>(dense.values.raw()) + s.offset);
    EXPECT_EQ(s.param->grad.raw(), static_cast<float*>(dense.grads.raw()) + s.offset);
  }
  EXPECT_EQ(floats(a.value), std::vector<float>(15, 1.0f)) << "values survive the move";
  EXPECT_EQ(floats(c.value), std::vector<float>(100, 3.0f));
  EXPECT_EQ(a.value.shape(), (Shape{3, 5}));
  // c (100 floats, 128 with padding) fills a bucket alone; b and a (64 each) share the next.
  ASSERT_EQ(dense.buckets.size(), 2u);
  EXPECT_EQ(dense.buckets[0].begin, 0);
  EXPECT_EQ(dense.buckets[0].end, dense.buckets[1].begin);
  EXPECT_EQ(dense.buckets[1].end, dense.numel());
  EXPECT_EQ(dense.buckets[1].slots, 2);
  EXPECT_TRUE(flat.groups()[1].expert);
  EXPECT_EQ(flat.groups()[1].slots[0].param, &e);
  a.grad.fill(5.0);
  flat.zero_grad();
  EXPECT_EQ(floats(a.grad), std::vector<float>(15, 0.0f));
}

TEST(GradReducer, RejectsAParameterReportedTwiceInOneStep) {
  auto world = testing::world();
  ProcessGroups g = make_process_groups(world, 1);
  Param a("a", {4}, Device::cpu());
  FlatParams flat({&a}, 0);
  GradReducer r(flat, split_grad_comms(g), GradReduceOptions{});
  r.ready({&a});
  EXPECT_THROW(r.ready({&a}), Error);
  r.finish();
}

struct Mode {
  const char* name;
  GradReduceOptions options;
  int64_t bucket_bytes;
};

// One training step of `c` on this rank's share of the global batch, reduced as `mode` says;
// returns the reduced gradients and the updated parameters, in the model's order.
std::pair<std::vector<std::vector<float>>, std::vector<std::vector<float>>> step(
    const pb::RunConfig& c, const ProcessGroups& g, const Mode& mode) {
  LanguageModel m(c, g, Device::cpu());
  FlatParams flat(m.params(), mode.bucket_bytes);
  GradReducer reducer(flat, split_grad_comms(g), mode.options);
  AdamW opt(flat, c.optimizer());
  const int64_t w = g.world->size(), per = c.data().global_batch() / w;
  std::vector<int32_t> ids, targets;
  tokens(ids, targets, g.world->rank() * per, per, c.model().seq_len());
  flat.zero_grad();
  m.forward(ids, targets, per, true);
  reducer.begin_step();
  m.backward([&](const std::vector<Param*>& done) { reducer.ready(done); });
  reducer.finish();
  std::vector<std::vector<float>> grads, values;
  for (Param* p : m.params()) grads.push_back(floats(p->grad));
  opt.step(1e-2f, g);
  for (Param* p : m.params()) values.push_back(floats(p->value));
  return {grads, values};
}

TEST(GradReducer, BucketedEqualsPerParameterForEveryFamilyAndEp) {
  auto world = testing::world();
  const int w = world->size();
  const Mode per_param{"per parameter", {false, false}, 0};
  const Mode modes[] = {{"bucketed, overlap", {true, true}, 1024},
                        {"bucketed, after backward", {true, false}, 1024},
                        {"one bucket, overlap", {true, true}, 0}};
  for (int f : {0, 1, 2, 4, 6}) {  // Transformer, Transformer-MoE, MH-MoE, sMLP, M2-GPT
    pb::RunConfig c = families()[f];
    c.mutable_optimizer()->set_eps(1e-6f);
    for (int ep = 1; ep <= w; ++ep) {
      if (w % ep) continue;
      ProcessGroups g = make_process_groups(world, ep);
      auto want = step(c, g, per_param);
      for (const Mode& mode : modes) {
        SCOPED_TRACE(pb::ModelFamily_Name(c.model().family()) + ", ep " + std::to_string(ep) +
                     ", " + mode.name);
        auto got = step(c, g, mode);
        if (w <= 2) {
          EXPECT_EQ(got.first, want.first);
          EXPECT_EQ(got.second, want.second);
          continue;
        }
        for (size_t i = 0; i < want.first.size(); ++i) {
          float scale = 0;
          for (float x : want.first[i]) scale = std::max(scale, std::fabs(x));
          for (size_t j = 0; j < want.first[i].size(); ++j) {
            ASSERT_NEAR(got.first[i][j], want.first[i][j], 1e-6f * scale + 1e-12f);
            // Adam moves a weight by about lr whatever its gradient's size: 1e-3 · lr.
            ASSERT_NEAR(got.second[i][j], want.second[i][j], 1e-5f);
          }
        }
      }
    }
  }
}

// Counts the all-reduces entered on it (from any thread).
class CountingCommunicator final : public ForwardingCommunicator {
 public:
  using ForwardingCommunicator::ForwardingCommunicator;
  void all_reduce(void* buf, size_t count, DType dtype, CommOp op) override {
    ++entered;
    ForwardingCommunicator::all_reduce(buf, count, dtype, op);
  }
  std::atomic<int> entered{0};
};

TEST(GradReducer, ABucketIsReducedWhileBackwardStillRuns) {
  auto world = testing::world();
  const int w = world->size();
  pb::RunConfig c = families()[0];
  ProcessGroups g = make_process_groups(world, 1);
  LanguageModel m(c, g, Device::cpu());
  FlatParams flat(m.params(), 1024);
  GradComms comms = split_grad_comms(g);
  auto counting = std::make_shared<CountingCommunicator>(comms.dense);
  comms.dense = counting;
  GradReducer reducer(flat, comms, GradReduceOptions{true, true});
  const int64_t per = c.data().global_batch() / w;
  std::vector<int32_t> ids, targets;
  tokens(ids, targets, world->rank() * per, per, c.model().seq_len());
  flat.zero_grad();
  m.forward(ids, targets, per, true);
  reducer.begin_step();
  bool entered_during_backward = false;
  const std::vector<Param*> embedding = {m.params().front()};
  m.backward([&](const std::vector<Param*>& done) {
    if (done == embedding && w > 1) {
      // The last report: backward is not over until it returns. An all-reduce must already have
      // been entered (on the communication thread); wait for it, bounded.
      auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30);
      while (counting->entered == 0 && std::chrono::steady_clock::now() < until)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
      entered_during_backward = counting->entered > 0;
      EXPECT_GT(reducer.buckets_posted(), 0);
    }
    reducer.ready(done);
  });
  reducer.finish();
  if (w == 1) {
    EXPECT_EQ(counting->entered, 0) << "one rank has nothing to reduce";
  } else {
    EXPECT_TRUE(entered_during_backward)
        << "no gradient all-reduce started before backward finished";
  }
}

}  // namespace
}  // namespace sy
