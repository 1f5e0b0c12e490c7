// `switchyard bench alltoall`: times our all_to_all_v and, in the same run on the same buffers, the
// backend's native all-to-all (MPI_Alltoallv on the MPI backend, grouped ncclSend/ncclRecv on
// NCCL), in the nccl-tests format. Sizes are the bytes each rank sends in all (nccl-tests'
// convention); per_peer = size / nranks.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include "comm/hierarchical_communicator.h"
#include "comm/mpi_communicator.h"
#if defined(SY_WITH_NCCL)
#include "comm/nccl_communicator.h"
#endif
#include "launch/args.h"
#include "launch/commands.h"
#include "launch/emulated_link.h"
#include "runtime/core/backend.h"
#include "runtime/core/deadline.h"
#include "runtime/core/logging.h"
#include "runtime/core/proto_json.h"
#include "runtime/core/tensor.h"
#include "switchyard/bench.pb.h"

namespace sy {

namespace {

const char* kUsage =
    "usage: mpirun -np N switchyard bench alltoall [options]\n"
    "  -b SIZE       smallest size, bytes sent per rank in all (default 8K; K/M/G suffixes)\n"
    "  -e SIZE       largest size (default 16M per peer, i.e. 16M x N)\n"
    "  -f FACTOR     size multiplier between steps (default 2)\n"
    "  -n ITERS      timed iterations per size and round (default 20)\n"
    "  -w WARMUP     warm-up iterations per size (default 5)\n"
    "  -c 0|1        check every received element (default 1)\n"
    "  -r ROUNDS     alternating rounds of ours/native; the best round counts (default 3)\n"
    "  --backend mpi|nccl   communicator (default mpi; nccl needs a CUDA build and GPUs)\n"
    "  --timeout S   deadline of every collective in seconds (default SY_COMM_TIMEOUT_S or 120)\n"
    "  --json FILE   also write one JSON BenchRecord per size to FILE (rank 0)\n"
    "  --ranks-per-node L   emulate nodes of L consecutive ranks and compare the hierarchical\n"
    "                all-to-all (ours) with the flat one (the baseline) in the same run\n"
    "  --emulate-link GBPS[,US]  with --ranks-per-node: what crosses between nodes pays a link of\n"
    "                GBPS GB/s per rank and US µs per message (launch/emulated_link.h)\n";

// The value peer `src` puts at element i of its block for peer `dst`: exact in f32, different for
// every (src, dst, i) within a 2^24 window, so the receiver can verify every element.
inline float expected_value(int src, int dst, size_t i) {
  return static_cast<float>(
      (static_cast<uint64_t>(src) * 7919u + static_cast<uint64_t>(dst) * 104729u + i) % 16777216u);
}

struct Buffers {
  Device device;
  void* send = nullptr;
  void* recv = nullptr;
  size_t bytes = 0;

  Buffers(Device d, size_t b) : device(d), bytes(b) {
    send = backend(d).allocate(b);
    recv = backend(d).allocate(b);
  }
  ~Buffers() {
    backend(device).deallocate(send);
    backend(device).deallocate(recv);
  }
  void clear_recv() { backend(device).fill(recv, bytes / sizeof(float), DType::kF32, 0.0, {}); }
};

// Runs `fn` iters times between two barriers; returns this rank's mean time in microseconds.
template <typename Fn>
double time_us(Communicator& comm, int iters, Fn fn) {
  comm.barrier();
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; ++i) fn();
  double t1 = MPI_Wtime();
  return (t1 - t0) * 1e6 / std::max(iters, 1);
}

// What the command line asks for, and the communicator it runs on.
struct AlltoallSetup {
  uint64_t min_bytes = 0, max_bytes = 0;
  uint64_t factor = 2;
  int iters = 20, warmup = 5, rounds = 3;
  bool check = true;
  std::shared_ptr<MpiCommunicator> mpi;  // the host world: barriers, reductions of results
  std::shared_ptr<Communicator> comm;    // the communicator under test
  std::shared_ptr<Communicator> flat;    // --ranks-per-node: the baseline, else MPI's own
  Device device;
  std::string baseline = "MPI_Alltoallv";
};

void use_backend(AlltoallSetup& s, const std::string& name, double timeout) {
  SY_CHECK(name == "mpi" || name == "nccl", "--backend must be mpi or nccl, got '" << name << "'");
  s.comm = s.mpi;
  s.device = Device::cpu();
  if (name == "mpi") return;
#if defined(SY_WITH_NCCL)
  SY_CHECK(cuda_available(), "--backend nccl needs a GPU on every rank; none is visible here");
  cuda_set_device(mpi_local_rank());
  s.comm = std::make_shared<NcclCommunicator>(s.mpi, "world", timeout);
  s.device = Device::cuda();
  s.baseline = "ncclSend/ncclRecv grouped";
#else
  SY_THROW("--backend nccl needs a build with CUDA and NCCL (configure with -DSY_CUDA=ON)");
#endif
}

// --ranks-per-node L [--emulate-link SPEC]: ours is the hierarchical all-to-all over emulated
// nodes, the baseline the flat one over the same (emulated) links.
void use_nodes(AlltoallSetup& s, int64_t per_node, const std::string& link) {
  SY_CHECK(link.empty() || per_node > 0, "--emulate-link needs --ranks-per-node");
  if (per_node <= 0) return;
  SY_CHECK(s.comm == s.mpi, "--ranks-per-node compares all-to-alls over MPI; drop --backend nccl");
  const int node = s.mpi->rank() / static_cast<int>(per_node);
  s.flat = link.empty() ? s.comm : EmulatedNodesCommunicator::from_spec(s.comm, node, link);
  std::string why;
  s.comm = HierarchicalCommunicator::wrap(s.flat, node, &why);
  SY_CHECK(why.empty(), "--ranks-per-node " << per_node << " with " << s.mpi->size()
                                            << " ranks: no hierarchy (" << why
                                            << "); use N ≥ 2 nodes of L ≥ 2 ranks");
  s.baseline = "flat all_to_all_v" + std::string(link.empty() ? "" : ", emulated link " + link);
}

AlltoallSetup parse(const Args& args) {
  AlltoallSetup s;
  const double timeout = args.get_double("--timeout", default_comm_timeout_s());
  s.mpi = mpi_world(timeout);
  const int n = s.mpi->size();
  s.min_bytes = args.get_bytes("-b", 8 << 10);
  s.max_bytes = args.get_bytes("-e", (uint64_t{16} << 20) * n);
  const int64_t factor = args.get_int("-f", 2);
  s.iters = static_cast<int>(args.get_int("-n", 20));
  s.warmup = static_cast<int>(args.get_int("-w", 5));
  s.check = args.get_int("-c", 1) != 0;
  s.rounds = static_cast<int>(args.get_int("-r", 3));
  SY_CHECK(factor >= 2, "-f must be ≥ 2");
  SY_CHECK(s.iters >= 1 && s.warmup >= 0 && s.rounds >= 1, "-n and -r must be ≥ 1, -w ≥ 0");
  SY_CHECK(s.min_bytes >= 1 && s.min_bytes <= s.max_bytes, "need 1 ≤ -b ≤ -e");
  s.factor = static_cast<uint64_t>(factor);
  use_backend(s, args.get("--backend", "mpi"), timeout);
  use_nodes(s, args.get_int("--ranks-per-node", 0), args.get("--emulate-link", ""));
  return s;
}

// One size: buffers filled so that every received element can be verified, our all_to_all_v and
// the native all-to-all on them.
class SizeRun {
 public:
  SizeRun(const AlltoallSetup& s, size_t per_peer)
      : s_(s),
        n_(s.mpi->size()),
        per_peer_(per_peer),
        elems_(per_peer / sizeof(float)),
        buf_(s.device, per_peer * n_),
        host_(per_peer * n_ / sizeof(float)) {
    for (int p = 0; p < n_; ++p)
      for (size_t i = 0; i < elems_; ++i) host_[p * elems_ + i] = expected_value(rank(), p, i);
    vector_tensor(buf_.send, s.device).copy_from(vector_tensor(host_.data(), Device::cpu()));
    std::vector<size_t> counts(n_, per_peer);
    layout_ = AllToAllLayout::packed(counts, counts);
  }

  void ours() { s_.comm->all_to_all_v(buf_.send, buf_.recv, layout_); }

  void native() {
    if (s_.flat) {
      s_.flat->all_to_all_v(buf_.send, buf_.recv, layout_);
      return;
    }
    if (s_.comm == s_.mpi) {
      std::vector<int> counts(n_, static_cast<int>(elems_)), displs(n_);
      for (int p = 0; p < n_; ++p) displs[p] = static_cast<int>(p * elems_);
      SY_MPI_CHECK(MPI_Alltoallv(buf_.send, counts.data(), displs.data(), MPI_FLOAT, buf_.recv,
                                 counts.data(), displs.data(), MPI_FLOAT, s_.mpi->comm()));
      return;
    }
#if defined(SY_WITH_NCCL)
    static_cast<NcclCommunicator&>(*s_.comm).native_all_to_all(buf_.send, buf_.recv, per_peer_);
#endif
  }

  // Warms `fn` up, runs it once on a cleared receive buffer and counts the wrong elements over
  // all ranks (0 without -c).
  template <typename Fn>
  uint64_t warm_and_check(Fn fn) {
    for (int i = 0; i < s_.warmup; ++i) fn();
    buf_.clear_recv();
    fn();
    if (!s_.check) return 0;
    vector_tensor(host_.data(), Device::cpu()).copy_from(vector_tensor(buf_.recv, s_.device));
    int64_t wrong = 0;
    for (int p = 0; p < n_; ++p)
      for (size_t i = 0; i < elems_; ++i)
        wrong += host_[p * elems_ + i] != expected_value(p, rank(), i);
    s_.mpi->all_reduce(&wrong, 1, DType::kI64, CommOp::kSum);
    return static_cast<uint64_t>(wrong);
  }

 private:
  int rank() const {
    return s_.mpi->rank();
  }
  Tensor vector_tensor(void* data, Device d) const {
    return Tensor::wrap(data, {static_cast<int64_t>(host_.size())}, DType::kF32, d);
  }

  const AlltoallSetup& s_;
  int n_;
  size_t per_peer_, elems_;
  Buffers buf_;
  std::vector<float> host_;
  AllToAllLayout layout_;
};

pb::BenchRecord measure(const AlltoallSetup& s, size_t per_peer) {
  const int n = s.mpi->size();
  SizeRun run(s, per_peer);
  const uint64_t wrong = run.warm_and_check([&] { run.ours(); });
  const uint64_t baseline_wrong = run.warm_and_check([&] { run.native(); });
  double best_ours = 1e300, best_native = 1e300;
  for (int r = 0; r < s.rounds; ++r) {
    // f32 keeps 7 digits of a time in microseconds: plenty for a max over ranks.
    float t[2] = {static_cast<float>(time_us(*s.mpi, s.iters, [&] { run.ours(); })),
                  static_cast<float>(time_us(*s.mpi, s.iters, [&] { run.native(); }))};
    s.mpi->all_reduce(t, 2, DType::kF32, CommOp::kMax);
    best_ours = std::min(best_ours, static_cast<double>(t[0]));
    best_native = std::min(best_native, static_cast<double>(t[1]));
  }
  const size_t total = per_peer * n;
  const double algbw = total / best_ours / 1e3, bus = n > 1 ? double(n - 1) / n : 0.0;  // GB/s
  pb::BenchRecord rec;
  rec.set_bench("alltoall");
  rec.set_backend(s.comm->backend_name());
  rec.set_device(device_name(s.device));
  rec.set_world_size(n);
  rec.set_bytes(total);
  rec.set_bytes_per_peer(per_peer);
  rec.set_time_us(best_ours);
  rec.set_algbw_gbs(algbw);
  rec.set_busbw_gbs(algbw * bus);
  rec.set_baseline(s.baseline);
  rec.set_baseline_time_us(best_native);
  rec.set_ratio(best_native / best_ours);
  rec.set_wrong(wrong);
  rec.set_baseline_wrong(baseline_wrong);
  return rec;
}

void report_header(const AlltoallSetup& s) {
  SY_LOG0("# switchyard bench alltoall: " << s.mpi->size() << " ranks, backend "
                                          << s.comm->backend_name() << ", device "
                                          << device_name(s.device) << ", baseline " << s.baseline);
  SY_LOG0("# iters " << s.iters << ", warmup " << s.warmup << ", rounds " << s.rounds
                     << " (best round; time = max over ranks of the mean), check "
                     << (s.check ? "on" : "off"));
  SY_LOG0("# busbw = algbw * (n-1)/n; ratio = "
          << (s.flat ? "flat time / hierarchical time" : "native time / our time")
          << " (>= 1: ours is as fast)");
  char line[512];
  std::snprintf(line, sizeof line,
                "# %12s %12s %10s %5s | %10s %8s %8s %7s | %10s %8s %8s %7s | %6s", "size",
                "per_peer", "count", "type", "time(us)", "algbw", "busbw", "#wrong", "time(us)",
                "algbw", "busbw", "#wrong", "ratio");
  SY_LOG0(line);
  SY_LOG0("# " << std::string(40, ' ') << (s.flat ? "hierarchical    " : "our all_to_all_v")
               << std::string(23, ' ') << (s.flat ? "flat" : "native"));
}

// The α-β model of a series of rows, time = α + bytes per rank / β, by least squares on the
// relative error (each size weighs the same, so the small ones set α and the large ones β): the
// latency and bandwidth a cost model (the planner's) takes for this communicator.
struct AlphaBeta {
  double alpha_us = 0, beta_gbs = 0;
};
AlphaBeta fit_alpha_beta(const std::vector<pb::BenchRecord>& rows, bool baseline) {
  double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
  for (const pb::BenchRecord& r : rows) {
    const double x = static_cast<double>(r.bytes());
    const double y = baseline ? r.baseline_time_us() : r.time_us(), w = 1.0 / (y * y);
    sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
  }
  const double det = sw * sxx - sx * sx;
  if (rows.size() < 2 || !(det > 0)) return {};
  const double slope = (sw * sxy - sx * sy) / det;  // µs per byte
  return {std::max(0.0, (sy - slope * sx) / sw), slope > 0 ? 1e-3 / slope : 0.0};
}

void report_fit(const AlltoallSetup& s, const std::vector<pb::BenchRecord>& rows) {
  const AlphaBeta ours = fit_alpha_beta(rows, false), base = fit_alpha_beta(rows, true);
  char line[256];
  std::snprintf(line, sizeof line,
                "# alpha-beta fit over the sizes (time = alpha + bytes per rank / beta): ours "
                "alpha %.1f us, beta %.3f GB/s; %s alpha %.1f us, beta %.3f GB/s",
                ours.alpha_us, ours.beta_gbs, s.flat ? "flat" : "native", base.alpha_us,
                base.beta_gbs);
  SY_LOG0(line);
}

// The nccl-tests row.
void report_row(const pb::BenchRecord& r) {
  const double bus = r.algbw_gbs() > 0 ? r.busbw_gbs() / r.algbw_gbs() : 0.0;
  const double native_algbw = r.bytes() / r.baseline_time_us() / 1e3;
  char line[512];
  std::snprintf(
      line, sizeof line,
      "  %12llu %12llu %10llu %5s | %10.1f %8.3f %8.3f %7llu | %10.1f %8.3f %8.3f %7llu | %6.3f",
      static_cast<unsigned long long>(r.bytes()),
      static_cast<unsigned long long>(r.bytes_per_peer()),
      static_cast<unsigned long long>(r.bytes() / sizeof(float)), "float", r.time_us(),
      r.algbw_gbs(), r.busbw_gbs(), static_cast<unsigned long long>(r.wrong()),
      r.baseline_time_us(), native_algbw, native_algbw * bus,
      static_cast<unsigned long long>(r.baseline_wrong()), r.ratio());
  SY_LOG0(line);
}

}  // namespace

int bench_alltoall_command(const std::vector<std::string>& argv) {
  Args args(argv,
            {"-b", "-e", "-f", "-n", "-w", "-c", "-r", "--backend", "--timeout", "--json",
             "--ranks-per-node", "--emulate-link"},
            kUsage);
  const AlltoallSetup s = parse(args);
  std::unique_ptr<std::ofstream> json;
  if (args.has("--json") && s.mpi->rank() == 0) {
    json = std::make_unique<std::ofstream>(args.get("--json", ""));
    SY_CHECK(json->good(), "cannot write " << args.get("--json", ""));
  }
  report_header(s);
  std::vector<pb::BenchRecord> rows;
  for (uint64_t size = s.min_bytes; size <= s.max_bytes; size *= s.factor) {
    const size_t per_peer = (size / s.mpi->size()) / sizeof(float) * sizeof(float);
    if (per_peer > 0) {
      rows.push_back(measure(s, per_peer));
      report_row(rows.back());
      if (json) *json << json_line(rows.back()) << "\n";
    }
    if (size > s.max_bytes / s.factor) break;
  }
  double busbw = 0;
  uint64_t wrong = 0;
  for (const pb::BenchRecord& r : rows) {
    busbw += r.busbw_gbs() / rows.size();
    wrong += r.wrong() + r.baseline_wrong();
  }
  SY_LOG0("# Avg bus bandwidth (ours): " << busbw << " GB/s");
  report_fit(s, rows);
  SY_LOG0("# ratio at the largest size: " << (rows.empty() ? 0.0 : rows.back().ratio()));
  if (wrong > 0) {
    SY_LOG0("# FAILED: " << wrong << " elements arrived wrong");
    return 1;
  }
  return 0;
}

}  // namespace sy
