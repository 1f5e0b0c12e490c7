// The MPI-aware GoogleTest main.
//
// - Only rank 0 prints gtest's normal output; other ranks print just their failures, prefixed
//   "[rank r]", so a failure anywhere is visible.
// - After every test the ranks agree on the result: rank 0 prints "<test> failed on rank(s): …"
//   when any rank failed, and the exit code (agreed over all ranks) is non-zero.
// - A failing assertion on one rank cannot deadlock the others: every collective has a deadline
//   (SY_COMM_TIMEOUT_S), so peers waiting for the failed rank throw TimeoutError, which gtest
//   records as a failure of that test on those ranks too; the agreement step runs on its own
//   communicator, so it never matches a test's leftover messages.
// - A watchdog thread aborts the whole job (MPI_Abort) when a test runs past SY_TEST_TIMEOUT_S
//   (default 240 s, under ctest's 300 s), naming the test.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <sstream>
#include <thread>

#include "runtime/core/deadline.h"
#include "runtime/core/logging.h"
#include "tests/test_world.h"

namespace sy {
namespace testing {

// The exit code of a test binary whose every test skipped.
constexpr int kAllSkipped = 77;

namespace {
std::shared_ptr<MpiCommunicator> g_world;
}

std::shared_ptr<MpiCommunicator> world() {
  return g_world;
}

namespace {

double test_timeout_s() {
  if (const char* env = std::getenv("SY_TEST_TIMEOUT_S")) {
    double v = std::atof(env);
    if (v > 0) return v;
  }
  return 240.0;
}

class Watchdog {
 public:
  Watchdog() : thread_([this] { run(); }) {}
  ~Watchdog() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  void arm(const std::string& test, double seconds) {
    std::lock_guard<std::mutex> lock(mu_);
    test_ = test;
    seconds_ = seconds;
    deadline_ = std::chrono::steady_clock::now() +
                std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                    std::chrono::duration<double>(seconds));
    armed_ = true;
    cv_.notify_all();
  }
  void disarm() {
    std::lock_guard<std::mutex> lock(mu_);
    armed_ = false;
    cv_.notify_all();
  }

 private:
  void run() {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stop_) {
      if (!armed_) {
        cv_.wait(lock);
        continue;
      }
      if (cv_.wait_until(lock, deadline_) == std::cv_status::timeout && armed_ && !stop_ &&
          std::chrono::steady_clock::now() >= deadline_) {
        std::ostringstream os;
        os << "watchdog: " << test_ << " ran past its " << seconds_
           << " s deadline (SY_TEST_TIMEOUT_S); aborting the job";
        mpi_abort_job(os.str(), 3);
      }
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false, armed_ = false;
  std::string test_;
  double seconds_ = 0;
  std::chrono::steady_clock::time_point deadline_;
  std::thread thread_;
};

// Prints a non-zero rank's failed assertions (gtest's printer is removed on those ranks).
class RankFailurePrinter : public ::testing::EmptyTestEventListener {
 public:
  explicit RankFailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const ::testing::TestPartResult& r) override {
    if (!r.failed()) return;
    std::fprintf(stderr, "[rank %d] %s:%d: Failure\n%s\n", rank_,
                 r.file_name() ? r.file_name() : "?", r.line_number(), r.message());
    std::fflush(stderr);
  }

 private:
  int rank_;
};

// Arms the watchdog around each test and agrees on the result across ranks after it.
class AgreementListener : public ::testing::EmptyTestEventListener {
 public:
  AgreementListener(MpiCommunicator* sync, Watchdog* dog, double timeout)
      : sync_(sync), dog_(dog), timeout_(timeout) {}

  void OnTestStart(const ::testing::TestInfo& info) override {
    dog_->arm(std::string(info.test_suite_name()) + "." + info.name(), timeout_);
  }

  void OnTestEnd(const ::testing::TestInfo& info) override {
    dog_->disarm();
    int failed = info.result()->Failed() ? 1 : 0;
    std::vector<int> all(sync_->size());
    sync_->all_gather(&failed, all.data(), sizeof(int));
    std::string ranks;
    for (size_t r = 0; r < all.size(); ++r)
      if (all[r]) ranks += (ranks.empty() ? "" : ", ") + std::to_string(r);
    if (!ranks.empty()) {
      any_failed_ = true;
      if (sync_->rank() == 0) {
        std::printf("[  RANKS   ] %s.%s failed on rank(s): %s\n", info.test_suite_name(),
                    info.name(), ranks.c_str());
        std::fflush(stdout);
      }
    }
  }
  bool any_failed() const { return any_failed_; }

 private:
  MpiCommunicator* sync_;
  Watchdog* dog_;
  double timeout_;
  bool any_failed_ = false;
};

}  // namespace
}  // namespace testing
}  // namespace sy

int main(int argc, char** argv) {
  sy::mpi_init(&argc, &argv);
  ::testing::InitGoogleTest(&argc, argv);
  int code = 1;
  try {
    double test_timeout = sy::testing::test_timeout_s();
    sy::testing::g_world = sy::mpi_world(sy::default_comm_timeout_s());
    // The agreement step may wait for a peer that is still inside a failing test until that
    // test's collectives time out, so its own deadline is the test's.
    sy::MpiCommunicator sync(MPI_COMM_WORLD, "test-harness", test_timeout);
    int rank = sync.rank();
    auto& listeners = ::testing::UnitTest::GetInstance()->listeners();
    if (rank != 0) {
      delete listeners.Release(listeners.default_result_printer());
      listeners.Append(new sy::testing::RankFailurePrinter(rank));
    }
    sy::testing::Watchdog dog;
    auto* agreement = new sy::testing::AgreementListener(&sync, &dog, test_timeout);
    listeners.Append(agreement);  // owned by gtest from here on
    int local = RUN_ALL_TESTS();
    int failed = (local != 0 || agreement->any_failed()) ? 1 : 0;
    sync.all_reduce(&failed, 1, sy::DType::kI32, sy::CommOp::kMax);
    code = failed;
    // Every test skipped on every rank (a CUDA binary without a GPU): ctest reports it as
    // skipped, not passed (SKIP_RETURN_CODE in cmake/SyTest.cmake).
    const ::testing::UnitTest& unit = *::testing::UnitTest::GetInstance();
    int ran = unit.test_to_run_count() == 0 || unit.skipped_test_count() < unit.test_to_run_count();
    sync.all_reduce(&ran, 1, sy::DType::kI32, sy::CommOp::kMax);
    if (code == 0 && !ran) code = sy::testing::kAllSkipped;
    sy::testing::g_world.reset();
    // A failed test may leave collectives posted that will never complete (the peers it timed out
    // on); MPI_Finalize could wait on them, so a failing job ends with an abort instead.
    if (failed) {
      std::fflush(stdout);
      sy::mpi_abort_job("some tests failed (see above)", 1);
    }
  } catch (const std::exception& e) {
    sy::mpi_abort_job(std::string("test main: ") + e.what(), 2);
  }
  sy::mpi_finalize();
  return code;
}
