// What differs between two configs by the values they take (a field left unset reads as its
// default, so "unset" and "set to the default" are the same) — for refusing to load a checkpoint
// into a model other than the one that wrote it.
#pragma once

#include <set>
#include <string>
#include <vector>

#include <google/protobuf/message.h>

#include "switchyard/config.pb.h"

namespace sy {

// Every field path where `saved` and `now` (messages of one type) take different values, as
// "<prefix>.field: <saved> in the checkpoint, <now> now"; fields whose name is in `ignored` are
// skipped at any depth.
std::vector<std::string> config_differences(const google::protobuf::Message& saved,
                                            const google::protobuf::Message& now,
                                            const std::string& prefix,
                                            const std::set<std::string>& ignored);

// The model settings a checkpoint must agree with: everything under model except what can change
// between training and fine-tuning or evaluation without changing the model's function — seq_len,
// mask_fraction, score_suffix_only, and the MoE layers' capacity_factor, dropless and auxiliary
// loss coefficients. Empty when they agree.
std::vector<std::string> model_mismatches(const pb::ModelConfig& saved, const pb::ModelConfig& now);

}  // namespace sy
