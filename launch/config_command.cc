// `switchyard config check FILE [--set a.b=value …] [--world N]`: parses, applies overrides,
// validates for a world size, and prints the merged config — the quickest way to see what a run
// would use and why a config is rejected.
#include <cstdio>

#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/config.h"

namespace sy {

int config_check_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set", "--world"});
  SY_CHECK(args.positional().size() == 1,
           "usage: switchyard config check FILE [--set path=value ...] [--world N]");
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  int world = static_cast<int>(args.get_int("--world", 1));
  validate_config(config, world);
  if (process_rank() <= 0) {
    std::printf("# %s: valid for %d rank%s\n%s", args.positional()[0].c_str(), world,
                world == 1 ? "" : "s", config_to_text(config).c_str());
  }
  return 0;
}

}  // namespace sy
