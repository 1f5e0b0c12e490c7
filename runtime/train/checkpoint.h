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
#include <vector>

#include "comm/process_groups.h"
#include "models/language_model.h"
#include "runtime/train/optimizer.h"
#include "switchyard/checkpoint.pb.h"

namespace sy {

// A checkpoint on disk: its folder and its manifest.
struct CheckpointOnDisk {
  std::string folder;
  pb::CheckpointManifest manifest;
};

// Collective. Writes <dir>/step_<step>/ and <dir>/latest; returns the checkpoint (every rank gets
// the file records of the manifest).
CheckpointOnDisk save_checkpoint(const std::string& dir, int64_t step, const pb::RunConfig& config,
                                 LanguageModel& model, AdamW* optimizer,
                                 const ProcessGroups& groups);

// The folder a path names (itself, the one its `latest` file points at, or that one's ".old" copy
// after a crash mid re-save) and its manifest, checked against its own checksum. Local: no
// collective (`switchyard ckpt`, and every rank inside load_checkpoint).
CheckpointOnDisk open_checkpoint(const std::string& path);
// The files a manifest lists (dense first, then the expert files), and their total size.
std::vector<const pb::CheckpointFile*> checkpoint_files(const pb::CheckpointManifest& manifest);
uint64_t checkpoint_file_bytes(const pb::CheckpointManifest& manifest);
// One file of a checkpoint, checked against its size and CRC-32C (throws naming it otherwise).
std::string read_checkpoint_file(const std::string& folder, const pb::CheckpointFile& meta);
// Reads every file the manifest lists and checks its size and CRC-32C; returns one message per
// damaged or missing file (empty: intact). Local.
std::vector<std::string> verify_checkpoint(const CheckpointOnDisk& checkpoint);

// Collective. Loads parameters (and, when given, the optimizer state) from a checkpoint folder
// (or a parent folder holding a `latest` file); verifies every checksum. Returns the manifest.
pb::CheckpointManifest load_checkpoint(const std::string& folder, LanguageModel& model,
                                       AdamW* optimizer, const ProcessGroups& groups);

}  // namespace sy
