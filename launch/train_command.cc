// `switchyard train CONFIG [--set path=value ...]`: trains the model the config describes.
#include <algorithm>
#include <cstdio>

#include "comm/mpi_communicator.h"
#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/config.h"
#include "runtime/core/logging.h"
#include "runtime/train/trainer.h"

namespace sy {

int train_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set"});
  SY_CHECK(args.positional().size() == 1,
           "usage: mpirun -np N switchyard train CONFIG.pbtxt [--set path=value ...]");
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  std::shared_ptr<Communicator> world = mpi_world(config.parallel().comm_timeout_s());
  validate_config(config, world->size());
  SY_LOG0("# config (merged, saved next to the logs):\n" << config_to_text(config));
  Trainer trainer(config, world);
  trainer.run();
  return 0;
}

}  // namespace sy
