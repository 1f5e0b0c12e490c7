// The overlap scheduler. (1) Bitwise-identical outputs, input gradients and parameter gradients
// with overlap off and with n = 2, 3, 4 chunks (uneven slices included) and the auto choice, and
// over the hierarchical all-to-all (two emulated nodes at np 4), at
// np 1, 2, 4 and every ep, for every layer of the shared catalogue (tests/moe_test_util.h: each
// router and expert kind, capacity and dropless modes, MH-MoE). (2) Proof that the
// pipeline overlaps, without timing: an instrumented communicator makes the exchange of chunk
// i+1 wait until the expert compute of chunk i has begun, and the compute of chunk i wait at its
// end until that exchange has started. A pipeline that serialised them would stall on these gates
// and fail by deadline; the recorded order must show each chunk's compute running while the next
// chunk's exchange is in flight, forward and backward.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>

#include "comm/forwarding_communicator.h"
#include "comm/hierarchical_communicator.h"
#include "tests/moe_test_util.h"
#include "tests/test_world.h"

namespace sy {
namespace {

std::vector<testing::MoeCase> cases() {
  MoeOptions b;
  b.d_model = 16;
  b.num_experts = 16;  // 4 local experts even at ep = 4, so up to 4 chunks
  b.d_expert = 24;
  b.seed = 21;
  return testing::moe_cases(b);
}

struct Snapshot {
  std::vector<float> y, dx;
  std::vector<std::vector<float>> grads;
  bool operator==(const Snapshot& o) const { return y == o.y && dx == o.dx && grads == o.grads; }
};

Snapshot run(TokenMoe& layer, int64_t t0, int64_t t1) {
  const int64_t d = layer.core().options().d_model;
  Tensor x = testing::global_rows(1, t0, t1, d), dy = testing::global_rows(2, t0, t1, d);
  const std::vector<int32_t> ids = testing::global_token_ids(t0, t1);
  Tensor y = Tensor::empty({t1 - t0, d}, DType::kF32),
         dx = Tensor::empty({t1 - t0, d}, DType::kF32);
  layer.zero_grad();
  layer.forward(y, x, ids.data(), true);
  layer.backward(dx, dy);
  layer.reduce_gradients();
  Snapshot s{y.to_vector<float>(), dx.to_vector<float>(), {}};
  for (Param* p : layer.params()) s.grads.push_back(p->grad.to_vector<float>());
  return s;
}

class MoeOverlap : public ::testing::TestWithParam<testing::MoeCase> {};

TEST_P(MoeOverlap, BitwiseIdenticalForAnyChunkCount) {
  const testing::MoeCase& c = GetParam();
  auto world = testing::world();
  const int w = world->size();
  const int64_t per = 32, t0 = world->rank() * per;
  for (int ep = 1; ep <= w; ++ep) {
    if (w % ep) continue;
    ProcessGroups g = make_process_groups(world, ep);
    MoeOptions off = c.o;
    std::unique_ptr<TokenMoe> base_layer = make_token_moe(off, g, Device::cpu());
    Snapshot want = run(*base_layer, t0, t0 + per);
    // Serial: every exchange is exposed, nothing is hidden. An ep group of one rank moves
    // nothing: its experts read the send buffer itself.
    const pb::MoeLayerStats& base_stats = base_layer->core().stats();
    if (ep == 1) {
      EXPECT_EQ(base_stats.exchange_ms(), 0) << "an ep group of one rank exchanged rows";
    } else {
      EXPECT_GT(base_stats.exchange_ms(), 0);
      EXPECT_GE(base_stats.a2a_ms(), base_stats.exchange_ms());
    }
    struct Variant {
      int chunks;
      bool overlap, automatic;
    };
    for (Variant v : {Variant{2, true, false}, Variant{3, true, false}, Variant{4, true, false},
                      Variant{3, false, false}, Variant{16, true, false}, Variant{1, true, true}}) {
      MoeOptions o = c.o;
      o.chunks = v.chunks;
      o.overlap = v.overlap;
      o.overlap_auto = v.automatic;
      std::unique_ptr<TokenMoe> layer = make_token_moe(o, g, Device::cpu());
      Snapshot got = run(*layer, t0, t0 + per);
      int e_local = c.o.num_experts / ep;
      if (!v.automatic) {
        EXPECT_EQ(layer->core().stats().chunks(), std::min(v.chunks, e_local));
      }
      EXPECT_TRUE(got == want) << c.name << ": ep " << ep << ", chunks " << v.chunks
                               << (v.overlap ? " overlapped" : " serial")
                               << (v.automatic ? " (auto)" : "") << " differs from overlap off";
    }
    // The hierarchical all-to-all over nodes of 2 ranks (a real two-hop exchange at ep 4; flat
    // where the group is one node): the same numbers, serial or overlapped.
    ProcessGroups hg = g;
    hg.ep_group = HierarchicalCommunicator::wrap(g.ep_group, world->rank() / 2, nullptr);
    for (int chunks : {1, 2}) {
      MoeOptions o = c.o;
      o.chunks = chunks;
      o.overlap = chunks > 1;
      std::unique_ptr<TokenMoe> layer = make_token_moe(o, hg, Device::cpu());
      EXPECT_TRUE(run(*layer, t0, t0 + per) == want)
          << c.name << ": ep " << ep << ", hierarchical all-to-all, chunks " << chunks
          << " differs from the flat exchange";
    }
    // Rows gathered expert-major after a per-chunk exchange (a GPU's way) against the CPU's
    // per-expert exchange straight into expert-major places: the same numbers.
    for (int chunks : {1, 3}) {
      MoeOptions o = c.o;
      o.chunks = chunks;
      o.overlap = chunks > 1;
      o.expert_exchange = MoeOptions::ExpertExchange::kGather;
      std::unique_ptr<TokenMoe> layer = make_token_moe(o, g, Device::cpu());
      EXPECT_TRUE(run(*layer, t0, t0 + per) == want)
          << c.name << ": ep " << ep << ", gathered exchange, chunks " << chunks
          << " differs from the direct one";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Layers, MoeOverlap, ::testing::ValuesIn(cases()), testing::case_name);

// Records the pipeline's events and holds exchanges and compute at the gates described above.
class Gates {
 public:
  void mark(const std::string& event) {
    std::lock_guard<std::mutex> lock(mu_);
    log_.push_back(event);
    seen_.insert(event);
    cv_.notify_all();
  }
  // Waits (at most 10 s) for an event; false on timeout.
  bool await(const std::string& event) {
    std::unique_lock<std::mutex> lock(mu_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return seen_.count(event) > 0; });
  }
  std::vector<std::string> log() {
    std::lock_guard<std::mutex> lock(mu_);
    return log_;
  }
  void reset() {
    std::lock_guard<std::mutex> lock(mu_);
    log_.clear();
    seen_.clear();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> log_;
  std::set<std::string> seen_;
};

// Wraps the ep group's communicator: numbers the all-to-all-v calls of a pass of n chunks (the
// pipeline posts every dispatch first — they need only the send buffer — then each chunk's return
// after its compute: d0 … d(n−1), u0 … u(n−1)) and gates dispatch i+1 on "compute i begun".
class InstrumentedComm final : public ForwardingCommunicator {
 public:
  InstrumentedComm(std::shared_ptr<Communicator> inner, Gates* gates, int chunks)
      : ForwardingCommunicator(std::move(inner)), gates_(gates), chunks_(chunks) {}
  void start_pass(const std::string& pass) {
    pass_ = pass;
    calls_ = 0;
  }
  void all_to_all_v(const void* s, void* r, const AllToAllLayout& l) override {
    int call = calls_++;
    bool dispatch = call < chunks_;
    int chunk = dispatch ? call : call - chunks_;
    std::string name = (dispatch ? "dispatch" : "undispatch") + std::to_string(chunk);
    gates_->mark(pass_ + " " + name + " start");
    if (dispatch && chunk > 0 &&
        !gates_->await(pass_ + " compute" + std::to_string(chunk - 1) + " begin"))
      SY_THROW_AS(TimeoutError, pass_ << ": " << name << " never saw compute " << chunk - 1
                                      << " begin: the pipeline does not overlap");
    inner().all_to_all_v(s, r, l);
    gates_->mark(pass_ + " " + name + " end");
  }

 private:
  Gates* gates_;
  std::string pass_;
  int chunks_;
  int calls_ = 0;
};

size_t index_of(const std::vector<std::string>& log, const std::string& event) {
  for (size_t i = 0; i < log.size(); ++i)
    if (log[i] == event) return i;
  ADD_FAILURE() << "event '" << event << "' was not recorded";
  return log.size();
}

// One local expert per chunk, so that either expert exchange (per chunk, or per expert straight
// into expert-major places) posts one exchange per chunk.
void check_overlap_order(MoeOptions::ExpertExchange exchange) {
  auto world = testing::world();
  const int w = world->size();
  MoeOptions o = cases()[0].o;
  o.num_experts = 4 * w;
  o.chunks = 4;
  o.overlap = true;
  o.expert_exchange = exchange;
  ProcessGroups g = make_process_groups(world, w);
  Gates gates;
  auto comm = std::make_shared<InstrumentedComm>(g.ep_group, &gates, o.chunks);
  g.ep_group = comm;
  MoeLayer layer(o, g, Device::cpu());
  std::string pass;
  layer.set_observer([&](const char* step, int chunk, bool begin) {
    std::string me = pass + " compute" + std::to_string(chunk);
    gates.mark(me + (begin ? " begin" : " end wait"));
    // Hold the end of compute i until the exchange of chunk i+1 has started.
    if (!begin && chunk + 1 < layer.stats().chunks()) {
      bool ok = gates.await(pass + " dispatch" + std::to_string(chunk + 1) + " start");
      if (!ok)
        ADD_FAILURE() << pass << ": compute " << chunk << " ended before dispatch " << chunk + 1
                      << " started";
    }
    if (!begin) gates.mark(me + " end");
  });
  const int64_t per = 32, t0 = world->rank() * per, d = o.d_model;
  Tensor x = testing::global_rows(1, t0, t0 + per, d),
         dy = testing::global_rows(2, t0, t0 + per, d);
  Tensor y = Tensor::empty({per, d}, DType::kF32), dx = Tensor::empty({per, d}, DType::kF32);
  for (const char* p : {"forward", "backward"}) {
    pass = p;
    gates.reset();
    comm->start_pass(pass);
    if (pass == "forward")
      layer.forward(y, x, nullptr, true);
    else
      layer.backward(dx, dy);
    const int n = layer.stats().chunks();
    ASSERT_EQ(n, 4);
    auto log = gates.log();
    for (int i = 0; i + 1 < n; ++i) {
      std::string c = pass + " compute" + std::to_string(i);
      std::string d1 = pass + " dispatch" + std::to_string(i + 1);
      // The intervals [compute i begin, end] and [dispatch i+1 start, end] intersect.
      EXPECT_LT(index_of(log, c + " begin"), index_of(log, d1 + " end")) << pass << " chunk " << i;
      EXPECT_LT(index_of(log, d1 + " start"), index_of(log, c + " end")) << pass << " chunk " << i;
    }
  }
}

TEST(MoeOverlapOrder, ComputeOfChunkIRunsWhileChunkIPlusOneIsExchanged) {
  if (testing::world()->size() == 1)
    GTEST_SKIP() << "needs 2+ ranks: an ep group of one rank exchanges nothing";
  for (auto exchange : {MoeOptions::ExpertExchange::kGather, MoeOptions::ExpertExchange::kDirect}) {
    SCOPED_TRACE(exchange == MoeOptions::ExpertExchange::kGather ? "gather" : "direct");
    check_overlap_order(exchange);
  }
}

}  // namespace
}  // namespace sy
