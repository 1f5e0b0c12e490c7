// Configs spelled out: every default written explicitly, so the merged config a run prints and
// saves (config.pbtxt) still reproduces the run after a default changes; and the valid values of
// an enum field, for error messages.
#pragma once

#include <string>

#include <google/protobuf/descriptor.h>

#include "switchyard/config.pb.h"

namespace sy {

// The config with every scalar field of its sections (model, parallel, data, optimizer, schedule,
// logging; model.moe for the MoE families, model.m2 for the M2 families) set to the value it takes.
// Per-layer overrides (model.moe_layer) stay as written: their unset fields mean "as model.moe".
pb::RunConfig with_defaults(const pb::RunConfig& config);

// "MPI | NCCL" for an enum field (the names without the *_UNSPECIFIED zero value).
std::string enum_choices(const google::protobuf::FieldDescriptor* field);

}  // namespace sy
