// `switchyard bench mixer`: forward + backward time per layer of the M2 sequence mixer (gated long
// convolutions through Monarch DFTs: O(T·√T) per channel) against causal attention (O(T²)), for
// sequence lengths T from -b to -e (doubling), on the same input; prints the ratio and the
// crossover T where M2 becomes faster. One process; the device from --device cpu|cuda.
#include <algorithm>
#include <cstdio>

#include "launch/args.h"
#include "launch/commands.h"
#include "models/layers/causal_attention.h"
#include "models/layers/m2_mixers.h"
#include "runtime/core/blas_info.h"
#include "runtime/core/clock.h"
#include "runtime/core/logging.h"
#include "runtime/core/random.h"

namespace sy {

int bench_mixer_command(const std::vector<std::string>& argv) {
  Args args(argv, {"-b", "-e", "-n", "--batch", "--dim", "--heads", "--device"},
            "usage: switchyard bench mixer [-b 256] [-e 8192] [-n 3] [--batch 1] [--dim 64] "
            "[--heads 4] [--device cpu|cuda]\n"
            "  forward+backward time of one M2 sequence mixer against causal attention for T\n"
            "  from -b to -e (doubling), best of -n; prints the ratio and the crossover T\n");
  const int64_t t_min = args.get_int("-b", 256), t_max = args.get_int("-e", 8192);
  const int64_t batch = args.get_int("--batch", 1), d = args.get_int("--dim", 64);
  const int heads = static_cast<int>(args.get_int("--heads", 4));
  const int reps = static_cast<int>(args.get_int("-n", 3));
  const Device dev = args.get("--device", "cpu") == "cuda" ? Device::cuda() : Device::cpu();
  SY_CHECK(t_min >= 4 && t_min <= t_max && reps >= 1, "need 4 ≤ -b ≤ -e and -n ≥ 1");
  SY_LOG0("# switchyard bench mixer: forward+backward of one layer, batch "
          << batch << ", d " << d << ", attention heads " << heads << ", device "
          << device_name(dev) << ", best of " << reps);
  report_blas();
  SY_LOG0("#      T   attention(ms)      M2(ms)   attention/M2");
  int64_t crossover = -1;
  double ratio_4096 = 0;
  for (int64_t t = t_min; t <= t_max; t *= 2) {
    const int64_t n = batch * t;
    Tensor x = Tensor::empty({n, d}, DType::kF32, dev),
           dy = Tensor::empty({n, d}, DType::kF32, dev);
    fill_normal(x, 1, 1, 1.0f);
    fill_normal(dy, 1, 2, 1.0f);
    Tensor y = Tensor::empty({n, d}, DType::kF32, dev),
           dx = Tensor::empty({n, d}, DType::kF32, dev);
    CausalSelfAttention att("att", d, heads, 3, dev);
    M2SequenceMixer m2("m2", d, t, M2MixerOptions{}, 3, dev);  // implicit filter, causal
    auto time_of = [&](auto fwd, auto bwd) {
      double best = 1e300;
      for (int r = 0; r <= reps; ++r) {  // the first run warms up
        double t0 = now_s();
        fwd();
        bwd();
        if (dev.is_cuda()) backend(dev).synchronize(Stream{});
        if (r > 0) best = std::min(best, now_s() - t0);
      }
      return best;
    };
    double ta = time_of([&] { att.forward(y, x, batch, t); }, [&] { att.backward(dx, dy); });
    double tm = time_of([&] { m2.forward(y, x, batch); }, [&] { m2.backward(dx, dy); });
    char line[128];
    std::snprintf(line, sizeof line, "  %6lld   %12.2f   %9.2f   %12.2f", static_cast<long long>(t),
                  ta * 1e3, tm * 1e3, ta / tm);
    SY_LOG0(line);
    if (crossover < 0 && tm < ta) crossover = t;
    if (t == 4096) ratio_4096 = ta / tm;
  }
  SY_LOG0("# crossover: " << (crossover < 0 ? std::string("none in range")
                                            : "T = " + std::to_string(crossover))
                          << "; attention/M2 at T = 4096: "
                          << (ratio_4096 > 0 ? std::to_string(ratio_4096) : std::string("n/a")));
  return 0;
}

}  // namespace sy
