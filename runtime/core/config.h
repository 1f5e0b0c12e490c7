// Run configs: text-format protobuf (proto/switchyard/config.proto). Parse errors and unknown
// fields are reported as file:line:column; `--set a.b=value` overrides go through the same parser;
// every cross-field rule lives in validate_config() so there is one place to read them all.
#pragma once

#include <string>
#include <vector>

#include "runtime/core/error.h"
#include "switchyard/config.pb.h"

namespace sy {

// What every config function throws: a problem with the config or an override (the same on every
// rank; `switchyard` prints it once and exits 2).
class ConfigError : public Error {
 public:
  using Error::Error;
};

// Reads and parses a .pbtxt file. Throws sy::Error naming file:line:column for each problem.
pb::RunConfig load_config_file(const std::string& path);
// Parses config text; `source` names it in error messages (a file name or "<string>").
pb::RunConfig parse_config_text(const std::string& text, const std::string& source);

// Applies one override "path=value", e.g. "model.moe.num_experts=16", "parallel.comm_backend=NCCL",
// "model.moe_layer[0].moe.top_k=2" (an index equal to the current size appends an element);
// a repeated scalar takes one value or a list: "debug.nonfinite_steps=[3, 4]".
void apply_override(pb::RunConfig* config, const std::string& assignment);
void apply_overrides(pb::RunConfig* config, const std::vector<std::string>& assignments);

// The cross-field checks. Throws one sy::Error that lists every violated rule with how to fix it.
// world_size is the number of MPI ranks the run will use.
void validate_config(const pb::RunConfig& config, int world_size);

// The MoE settings of block `layer`: the model-wide ones merged with that layer's override.
pb::MoeConfig moe_for_layer(const pb::ModelConfig& model, int layer);

// Families whose blocks use attention (and so take rotary positions).
bool is_attention_family(pb::ModelFamily family);
// Families trained as masked language models (predict masked tokens of the input itself).
bool is_masked_lm(pb::ModelFamily family);
// Families with MoE layers (model.moe applies), and the Monarch Mixer families (model.m2 applies).
bool has_moe_layers(pb::ModelFamily family);
bool is_m2_family(pb::ModelFamily family);
// model.position resolved: unspecified is LEARNED for BERT, ROPE for the other attention families,
// NONE otherwise.
pb::ModelConfig::Position resolved_position(const pb::ModelConfig& model);

// The deadline of every blocking collective: parallel.comm_timeout_s when the config sets it, else
// SY_COMM_TIMEOUT_S from the environment, else 120 s.
double comm_timeout_s(const pb::ParallelConfig& parallel);

// The config as text-format, for logs and for saving next to checkpoints.
std::string config_to_text(const pb::RunConfig& config);

}  // namespace sy
