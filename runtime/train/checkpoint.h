// Checkpoints (DESIGN.md contract 11). A checkpoint is a folder step_<N>/ holding
//   manifest.pbtxt  — pb::CheckpointManifest: step, optimizer step, the run config, and for every
//                     file its tensors' places and CRC-32C;
//   dense.bin       — every parameter that is not an expert's, with its AdamW moments;
//   <layer>.expert<e>.bin — one per global expert e of every MoE layer: that expert's slice of the
//                     layer's expert parameters, with their moments.
// Files are written under step_<N>.tmp/, fsynced, and the folder is renamed when all are complete,
// so a crash never leaves a half-written checkpoint under its final name. Expert files are keyed by
// global expert id, so a checkpoint written with one ep loads with any other.
#pragma once

#include <string>

#include "comm/process_groups.h"
#include "models/language_model.h"
#include "runtime/train/optimizer.h"
#include "switchyard/checkpoint.pb.h"

namespace sy {

// Collective. Writes <dir>/step_<step>/ and <dir>/latest; returns the checkpoint folder.
std::string save_checkpoint(const std::string& dir, int64_t step, const pb::RunConfig& config,
                            LanguageModel& model, AdamW* optimizer, const ProcessGroups& groups);

// Collective. Loads parameters (and, when given, the optimizer state) from a checkpoint folder
// (or a parent folder holding a `latest` file); verifies every checksum. Returns the manifest.
pb::CheckpointManifest load_checkpoint(const std::string& folder, LanguageModel& model,
                                       AdamW* optimizer, const ProcessGroups& groups);

}  // namespace sy
