// The exchange pipeline's contract on the host (runtime/scheduler/exchange_pipeline.h): overlap off
// runs each job inline, before post() returns; overlap on runs the jobs in posting order on one
// other thread, and wait(h) returns only once job h (and every job before it) has run; a failing
// job's exception comes back from wait() on the posting thread, the jobs after it are skipped,
// and the pipeline keeps reporting the failure instead of running on. (The GPU forms are covered
// by moe_cuda_test, which runs the MoE layer through them.)
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/scheduler/exchange_pipeline.h"
#include "tests/test_world.h"

namespace sy {
namespace {

TEST(ExchangePipeline, OverlapOffRunsEachJobInlineBeforePostReturns) {
  auto world = testing::world();
  ExchangePipeline p(*world, Device::cpu(), false);
  EXPECT_EQ(p.mark().index, -1);  // no events on the CPU
  std::thread::id ran_on;
  bool ran = false;
  auto h = p.post(
      [&](Stream) {
        ran_on = std::this_thread::get_id();
        ran = true;
      },
      p.mark());
  EXPECT_TRUE(ran);
  EXPECT_EQ(ran_on, std::this_thread::get_id());
  p.wait(h);
  p.join();
  p.confirm();
}

TEST(ExchangePipeline, OverlapOnRunsJobsInOrderOnAnotherThreadAndWaitMeansDone) {
  auto world = testing::world();
  ExchangePipeline p(*world, Device::cpu(), true);
  std::atomic<bool> release{false};
  std::vector<int> order;  // written by the jobs' thread only, read after wait()
  std::thread::id job_thread;
  std::vector<ExchangePipeline::Handle> hs;
  // The first job blocks until released: post() must return anyway (the job is not inline).
  hs.push_back(p.post(
      [&](Stream) {
        job_thread = std::this_thread::get_id();
        while (!release.load()) std::this_thread::yield();
        order.push_back(0);
      },
      ExchangePipeline::Mark{}));
  for (int j = 1; j < 5; ++j)
    hs.push_back(p.post([&, j](Stream) { order.push_back(j); }, ExchangePipeline::Mark{}));
  release = true;
  p.wait(hs[2]);
  ASSERT_GE(order.size(), 3u);  // jobs 0, 1, 2 have run
  EXPECT_EQ(std::vector<int>(order.begin(), order.begin() + 3), (std::vector<int>{0, 1, 2}));
  EXPECT_NE(job_thread, std::this_thread::get_id());
  p.join();
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3, 4}));
  p.confirm();
}

TEST(ExchangePipeline, AFailedJobIsReportedByWaitAndTheJobsAfterItAreSkipped) {
  auto world = testing::world();
  for (bool overlap : {false, true}) {
    SCOPED_TRACE(overlap ? "overlap" : "inline");
    ExchangePipeline p(*world, Device::cpu(), overlap);
    bool later_ran = false;
    auto fail = [](Stream) { throw std::runtime_error("peer 3 never arrived"); };
    if (!overlap) {
      // Inline: the failure surfaces from post() itself.
      EXPECT_THROW(p.post(fail, ExchangePipeline::Mark{}), std::runtime_error);
      continue;
    }
    auto h = p.post(fail, ExchangePipeline::Mark{});
    auto h2 = p.post([&](Stream) { later_ran = true; }, ExchangePipeline::Mark{});
    try {
      p.wait(h);
      ADD_FAILURE() << "wait() returned after a failed job";
    } catch (const std::runtime_error& e) {
      EXPECT_NE(std::string(e.what()).find("peer 3 never arrived"), std::string::npos);
    }
    EXPECT_THROW(p.wait(h2), std::runtime_error);
    EXPECT_FALSE(later_ran);
    EXPECT_THROW(p.confirm(), std::runtime_error);
  }
}

// The caller's time on a job is counted once, in the counter given at post(): the whole job when
// it runs inline, the wait for it with overlap; busy_seconds() is how long the jobs ran.
TEST(ExchangePipeline, ExposedTimeIsCountedInThePostedCounter) {
  auto world = testing::world();
  auto nap = [](Stream) { std::this_thread::sleep_for(std::chrono::milliseconds(20)); };
  {
    ExchangePipeline inline_pipe(*world, Device::cpu(), false);
    double exposed = 0;
    auto h = inline_pipe.post(nap, inline_pipe.mark(), &exposed);
    EXPECT_GE(exposed, 0.019);
    const double after_post = exposed;
    inline_pipe.wait(h);
    inline_pipe.join();
    EXPECT_EQ(exposed, after_post) << "an inline job's wait is not counted twice";
    EXPECT_GE(inline_pipe.busy_seconds(), 0.019);
  }
  ExchangePipeline pipe(*world, Device::cpu(), true);
  double dispatch = 0, back = 0;
  auto h = pipe.post(nap, pipe.mark(), &dispatch);
  pipe.post(nap, pipe.mark(), &back);
  pipe.wait(h);  // the first job's wait counts for the first counter
  EXPECT_GT(dispatch, 0.0);
  EXPECT_EQ(back, 0.0);
  pipe.join();  // the rest of the round counts for the last job posted
  EXPECT_GT(back, 0.0);
  EXPECT_GE(dispatch + back, 0.03) << "the main thread waited for both 20 ms jobs";
  EXPECT_GE(pipe.busy_seconds(), 0.039);
  pipe.confirm();
}

}  // namespace
}  // namespace sy
