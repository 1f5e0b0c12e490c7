// The subcommands of `switchyard`. Each takes its arguments after the subcommand's name and
// returns the process exit code; errors are thrown as sy::Error.
#pragma once

#include <string>
#include <vector>

namespace sy {

int bench_alltoall_command(const std::vector<std::string>& args);
int config_check_command(const std::vector<std::string>& args);
int bench_moe_layer_command(const std::vector<std::string>& args);
int prepare_command(const std::vector<std::string>& args);
int train_command(const std::vector<std::string>& args);
int generate_command(const std::vector<std::string>& args);
int bench_mixer_command(const std::vector<std::string>& args);
int bench_step_command(const std::vector<std::string>& args);
int eval_command(const std::vector<std::string>& args);
int ckpt_command(const std::vector<std::string>& args);
int plan_command(const std::vector<std::string>& args);

}  // namespace sy
