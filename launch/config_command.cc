// `switchyard config check FILE [--set a.b=value …] [--world N]`: parses, applies overrides,
// validates for a world size (without --world: ep ranks), and prints the merged config with every
// default written out — the quickest way to see what a run would use and why a config is rejected.
#include <algorithm>
#include <cstdio>

#include "launch/args.h"
#include "launch/commands.h"
#include "runtime/core/config.h"
#include "runtime/core/config_defaults.h"

namespace sy {

int config_check_command(const std::vector<std::string>& argv) {
  Args args(argv, {"--set", "--world"},
            "usage: switchyard config check FILE [--set path=value ...] [--world N]\n"
            "  parses FILE, applies the overrides, validates it for N ranks (default: ep) and\n"
            "  prints the merged config with every default written out\n");
  SY_USAGE_CHECK(args.positional().size() == 1, args);
  pb::RunConfig config = load_config_file(args.positional()[0]);
  apply_overrides(&config, args.get_all("--set"));
  // Without --world, the smallest world the config can run on: ep ranks (the world-size rules —
  // ep divides it, the global batch is a multiple of it — then hold for every multiple of ep).
  const bool given = args.has("--world");
  const int world = static_cast<int>(args.get_int("--world", std::max(1, config.parallel().ep())));
  validate_config(config, world);
  if (process_rank() <= 0) {
    std::printf("# %s: valid for %d rank%s%s\n%s", args.positional()[0].c_str(), world,
                world == 1 ? "" : "s",
                given ? ""
                      : " (no --world: checked for ep ranks; also valid for every multiple "
                        "of ep that divides data.global_batch)",
                config_to_text(with_defaults(config)).c_str());
  }
  return 0;
}

}  // namespace sy
