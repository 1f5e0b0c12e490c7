// Uses the installed library as another project would: parses and validates a run config, builds
// a language model on the CPU and runs one training step through the Trainer's pieces.
#include <cmath>
#include <cstdio>

#include "comm/mpi_communicator.h"
#include "runtime/core/config.h"
#include "runtime/train/trainer.h"

int main(int argc, char** argv) {
  sy::mpi_init(&argc, &argv);
  const std::string data = argc > 1 ? argv[1] : "";
  sy::pb::RunConfig c = sy::parse_config_text(
      "model { family: TRANSFORMER_MOE vocab_size: 256 seq_len: 16 d_model: 16 n_heads: 2 "
      "n_layers: 2 d_ff: 32 moe { num_experts: 2 d_expert: 16 } } data { global_batch: 2 } "
      "schedule { steps: 2 warmup_steps: 1 }",
      "consumer");
  c.mutable_data()->set_train_path(data);
  double loss = 0;
  try {
    sy::Trainer trainer(c, sy::mpi_world(60));
    loss = trainer.train_step().loss();
    std::printf("consumer: one step of a %lld-parameter model, loss %.4f\n",
                static_cast<long long>(trainer.model().parameter_count()), loss);
  } catch (const sy::Error& e) {
    std::fprintf(stderr, "consumer: %s\n", e.what());
  }
  sy::mpi_finalize();
  return std::isfinite(loss) && loss > 0 ? 0 : 1;
}
