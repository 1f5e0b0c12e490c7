// `switchyard bench alltoall`: times our all_to_all_v and, in the same run on the same buffers, the
// backend's native all-to-all (MPI_Alltoallv on the MPI backend, grouped ncclSend/ncclRecv on
// NCCL), in the nccl-tests format. Sizes are the bytes each rank sends in all (nccl-tests'
// convention); per_peer = size / nranks.
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <memory>

#include <google/protobuf/util/json_util.h>

#include "comm/mpi_communicator.h"
#if defined(SY_WITH_NCCL)
#include "comm/nccl_communicator.h"
#endif
#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/backend.h"
#include "runtime/core/deadline.h"
#include "runtime/core/logging.h"
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
    "  --json FILE   also write one JSON BenchRecord per size to FILE (rank 0)\n";

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

}  // namespace

int bench_alltoall_command(const std::vector<std::string>& argv) {
  if (std::find(argv.begin(), argv.end(), "--help") != argv.end() ||
      std::find(argv.begin(), argv.end(), "-h") != argv.end()) {
    if (process_rank() <= 0) std::fputs(kUsage, stdout);
    return 0;
  }
  Args args(argv, {"-b", "-e", "-f", "-n", "-w", "-c", "-r", "--backend", "--timeout", "--json"});
  double timeout = args.get_double("--timeout", default_comm_timeout_s());
  std::shared_ptr<MpiCommunicator> mpi = mpi_world(timeout);
  int n = mpi->size(), rank = mpi->rank();
  uint64_t min_b = args.get_bytes("-b", 8 << 10);
  uint64_t max_b = args.get_bytes("-e", (uint64_t{16} << 20) * n);
  int64_t factor = args.get_int("-f", 2);
  int iters = static_cast<int>(args.get_int("-n", 20));
  int warmup = static_cast<int>(args.get_int("-w", 5));
  bool check = args.get_int("-c", 1) != 0;
  int rounds = static_cast<int>(args.get_int("-r", 3));
  std::string backend_name = args.get("--backend", "mpi");
  SY_CHECK(factor >= 2, "-f must be ≥ 2");
  SY_CHECK(iters >= 1 && warmup >= 0 && rounds >= 1, "-n and -r must be ≥ 1, -w ≥ 0");
  SY_CHECK(min_b >= 1 && min_b <= max_b, "need 1 ≤ -b ≤ -e");
  SY_CHECK(backend_name == "mpi" || backend_name == "nccl",
           "--backend must be mpi or nccl, got '" << backend_name << "'");

  std::shared_ptr<Communicator> comm = mpi;
  Device device = Device::cpu();
  std::string baseline = "MPI_Alltoallv";
  if (backend_name == "nccl") {
#if defined(SY_WITH_NCCL)
    SY_CHECK(cuda_available(), "--backend nccl needs a GPU on every rank; none is visible here");
    cuda_set_device(mpi_local_rank());
    comm = std::make_shared<NcclCommunicator>(mpi, "world", timeout);
    device = Device::cuda();
    baseline = "ncclSend/ncclRecv grouped";
#else
    SY_THROW("--backend nccl needs a build with CUDA and NCCL (configure with -DSY_CUDA=ON)");
#endif
  }

  std::unique_ptr<std::ofstream> json;
  if (args.has("--json") && rank == 0) {
    json = std::make_unique<std::ofstream>(args.get("--json", ""));
    SY_CHECK(json->good(), "cannot write " << args.get("--json", ""));
  }

  SY_LOG0("# switchyard bench alltoall: " << n << " ranks, backend " << comm->backend_name()
                                          << ", device " << device_name(device) << ", baseline "
                                          << baseline);
  SY_LOG0("# iters " << iters << ", warmup " << warmup << ", rounds " << rounds << " (best round; "
                     << "time = max over ranks of the mean), check " << (check ? "on" : "off"));
  SY_LOG0("# busbw = algbw * (n-1)/n; ratio = native time / our time (>= 1: ours is as fast)");
  char line[512];
  std::snprintf(line, sizeof line,
                "# %12s %12s %10s %5s | %10s %8s %8s %7s | %10s %8s %8s %7s | %6s", "size",
                "per_peer", "count", "type", "time(us)", "algbw", "busbw", "#wrong", "time(us)",
                "algbw", "busbw", "#wrong", "ratio");
  SY_LOG0(line);
  SY_LOG0("# " << std::string(40, ' ') << "our all_to_all_v" << std::string(23, ' ') << "native");

  double sum_busbw = 0;
  int sizes = 0;
  uint64_t total_wrong = 0;
  double last_ratio = 0;
  for (uint64_t size = min_b; size <= max_b; size *= static_cast<uint64_t>(factor)) {
    size_t per_peer = (size / n) / sizeof(float) * sizeof(float);
    if (per_peer == 0) continue;
    size_t total = per_peer * n, elems = per_peer / sizeof(float);
    Buffers buf(device, total);
    std::vector<float> host(total / sizeof(float));
    for (int p = 0; p < n; ++p)
      for (size_t i = 0; i < elems; ++i) host[p * elems + i] = expected_value(rank, p, i);
    Tensor::wrap(buf.send, {static_cast<int64_t>(host.size())}, DType::kF32, device)
        .copy_from(Tensor::wrap(host.data(), {static_cast<int64_t>(host.size())}, DType::kF32));

    std::vector<size_t> counts(n, per_peer);
    AllToAllLayout layout = AllToAllLayout::packed(counts, counts);
    std::vector<int> mpi_counts(n, static_cast<int>(elems)), mpi_displs(n);
    for (int p = 0; p < n; ++p) mpi_displs[p] = static_cast<int>(p * elems);

    auto ours = [&] { comm->all_to_all_v(buf.send, buf.recv, layout); };
    auto native = [&] {
      if (backend_name == "mpi") {
        SY_MPI_CHECK(MPI_Alltoallv(buf.send, mpi_counts.data(), mpi_displs.data(), MPI_FLOAT,
                                   buf.recv, mpi_counts.data(), mpi_displs.data(), MPI_FLOAT,
                                   mpi->comm()));
      } else {
#if defined(SY_WITH_NCCL)
        static_cast<NcclCommunicator&>(*comm).native_all_to_all(buf.send, buf.recv, per_peer);
#endif
      }
    };
    auto count_wrong = [&]() -> uint64_t {
      if (!check) return 0;
      Tensor::wrap(host.data(), {static_cast<int64_t>(host.size())}, DType::kF32)
          .copy_from(
              Tensor::wrap(buf.recv, {static_cast<int64_t>(host.size())}, DType::kF32, device));
      uint64_t wrong = 0;
      for (int p = 0; p < n; ++p)
        for (size_t i = 0; i < elems; ++i)
          wrong += host[p * elems + i] != expected_value(p, rank, i);
      int64_t w = static_cast<int64_t>(wrong);
      mpi->all_reduce(&w, 1, DType::kI64, CommOp::kSum);
      return static_cast<uint64_t>(w);
    };

    for (int i = 0; i < warmup; ++i) ours();
    buf.clear_recv();
    ours();
    uint64_t wrong_ours = count_wrong();
    for (int i = 0; i < warmup; ++i) native();
    buf.clear_recv();
    native();
    uint64_t wrong_native = count_wrong();

    double best_ours = 1e300, best_native = 1e300;
    for (int r = 0; r < rounds; ++r) {
      // f32 keeps 7 digits of a time in microseconds: plenty for a max over ranks.
      float t[2] = {static_cast<float>(time_us(*mpi, iters, ours)),
                    static_cast<float>(time_us(*mpi, iters, native))};
      mpi->all_reduce(t, 2, DType::kF32, CommOp::kMax);
      best_ours = std::min(best_ours, static_cast<double>(t[0]));
      best_native = std::min(best_native, static_cast<double>(t[1]));
    }
    double algbw_o = total / best_ours / 1e3, algbw_n = total / best_native / 1e3;  // GB/s
    double bus = n > 1 ? double(n - 1) / n : 0.0;
    double ratio = best_native / best_ours;
    last_ratio = ratio;
    total_wrong += wrong_ours + wrong_native;
    sum_busbw += algbw_o * bus;
    ++sizes;
    std::snprintf(
        line, sizeof line,
        "  %12zu %12zu %10zu %5s | %10.1f %8.3f %8.3f %7llu | %10.1f %8.3f %8.3f %7llu | %6.3f",
        total, per_peer, total / sizeof(float), "float", best_ours, algbw_o, algbw_o * bus,
        static_cast<unsigned long long>(wrong_ours), best_native, algbw_n, algbw_n * bus,
        static_cast<unsigned long long>(wrong_native), ratio);
    SY_LOG0(line);
    if (json) {
      pb::BenchRecord rec;
      rec.set_bench("alltoall");
      rec.set_backend(comm->backend_name());
      rec.set_device(device_name(device));
      rec.set_world_size(n);
      rec.set_bytes(total);
      rec.set_bytes_per_peer(per_peer);
      rec.set_time_us(best_ours);
      rec.set_algbw_gbs(algbw_o);
      rec.set_busbw_gbs(algbw_o * bus);
      rec.set_baseline(baseline);
      rec.set_baseline_time_us(best_native);
      rec.set_ratio(ratio);
      rec.set_wrong(wrong_ours + wrong_native);
      std::string out;
      google::protobuf::util::JsonPrintOptions opts;
      opts.add_whitespace = false;
      (void)google::protobuf::util::MessageToJsonString(rec, &out, opts);
      *json << out << "\n";
    }
    if (size > max_b / static_cast<uint64_t>(factor)) break;
  }
  SY_LOG0("# Avg bus bandwidth (ours): " << (sizes ? sum_busbw / sizes : 0.0) << " GB/s");
  SY_LOG0("# ratio at the largest size: " << last_ratio);
  if (total_wrong > 0) {
    SY_LOG0("# FAILED: " << total_wrong << " elements arrived wrong");
    return 1;
  }
  return 0;
}

}  // namespace sy
