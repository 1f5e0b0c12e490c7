// TensorBoard event files (DESIGN.md contract 10): records framed as TFRecords — length (u64 LE),
// masked CRC-32C of the length (u32), the serialised Event, masked CRC-32C of the data — in a file
// named events.out.tfevents.<seconds>.<host>.<pid>, which `tensorboard --logdir` finds. Scalars and
// histograms (expert load: one bucket per expert). read_events() parses such a file back, checking
// every checksum: the tests' reader, and a tool for scripts.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>
#include <vector>

#include "switchyard/tensorboard.pb.h"

namespace sy {

// TFRecord's masked CRC: rotate right by 15 bits and add 0xa282ead8.
uint32_t masked_crc32c(const void* data, size_t bytes);

class EventWriter {
 public:
  // Creates dir if needed and a new event file in it; writes the file-version event.
  explicit EventWriter(const std::string& dir);
  const std::string& path() const { return path_; }

  void scalar(const std::string& tag, double value, int64_t step);
  // A histogram of `counts` over the buckets (lower, limits[0]], (limits[0], limits[1]], …; sum
  // and sum_squares are of the values the counts stand for.
  void histogram(const std::string& tag, const std::vector<double>& limits,
                 const std::vector<double>& counts, double lower, double sum, double sum_squares,
                 int64_t step);
  // Expert load as a histogram of the expert index of every routed item: bucket e holds load[e].
  void expert_load(const std::string& tag, const std::vector<int64_t>& load, int64_t step);
  void flush() { out_.flush(); }

 private:
  void write(const switchyard::tb::Event& event);

  std::string path_;
  std::ofstream out_;
};

// Every event of a file, in order. Throws with the record's offset when a length or data checksum
// does not match or the file ends inside a record.
std::vector<switchyard::tb::Event> read_events(const std::string& path);

}  // namespace sy
