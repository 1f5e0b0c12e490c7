#include "runtime/train/event_writer.h"

#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>

#include "runtime/core/crc32c.h"
#include "runtime/core/error.h"

namespace sy {

namespace {

double wall_time() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

void put_u64(std::string& s, uint64_t v) {
  for (int i = 0; i < 8; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void put_u32(std::string& s, uint32_t v) {
  for (int i = 0; i < 4; ++i) s.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint64_t get_le(const unsigned char* p, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

}  // namespace

uint32_t masked_crc32c(const void* data, size_t bytes) {
  uint32_t crc = crc32c(data, bytes);
  return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

EventWriter::EventWriter(const std::string& dir) {
  std::filesystem::create_directories(dir);
  char host[256] = "localhost";
  gethostname(host, sizeof host - 1);
  path_ = dir + "/events.out.tfevents." + std::to_string(static_cast<long long>(wall_time())) +
          "." + host + "." + std::to_string(static_cast<long long>(getpid()));
  out_.open(path_, std::ios::binary | std::ios::trunc);
  SY_CHECK(out_.good(), "cannot create the TensorBoard event file " << path_ << ": check that "
                                                                    << dir << " is writable");
  switchyard::tb::Event e;
  e.set_wall_time(wall_time());
  e.set_file_version("brain.Event:2");
  write(e);
  flush();
}

void EventWriter::write(const switchyard::tb::Event& event) {
  std::string data;
  SY_CHECK(event.SerializeToString(&data), "cannot serialise a TensorBoard event");
  std::string rec;
  put_u64(rec, data.size());
  uint32_t len_crc = masked_crc32c(rec.data(), 8);
  put_u32(rec, len_crc);
  rec += data;
  put_u32(rec, masked_crc32c(data.data(), data.size()));
  out_.write(rec.data(), static_cast<std::streamsize>(rec.size()));
  SY_CHECK(out_.good(), "writing the TensorBoard event file " << path_ << " failed (disk full?)");
}

void EventWriter::scalar(const std::string& tag, double value, int64_t step) {
  switchyard::tb::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  v->set_simple_value(static_cast<float>(value));
  write(e);
}

void EventWriter::histogram(const std::string& tag, const std::vector<double>& limits,
                            const std::vector<double>& counts, double lower, double sum,
                            double sum_squares, int64_t step) {
  SY_CHECK(limits.size() == counts.size() && !limits.empty(),
           "histogram '" << tag << "': need one count per bucket limit, got " << counts.size()
                         << " counts and " << limits.size() << " limits");
  switchyard::tb::Event e;
  e.set_wall_time(wall_time());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* h = v->mutable_histo();
  double num = 0;
  for (double c : counts) num += c;
  h->set_min(lower);
  h->set_max(limits.back());
  h->set_num(num);
  h->set_sum(sum);
  h->set_sum_squares(sum_squares);
  for (size_t i = 0; i < limits.size(); ++i) {
    h->add_bucket_limit(limits[i]);
    h->add_bucket(counts[i]);
  }
  write(e);
}

void EventWriter::expert_load(const std::string& tag, const std::vector<int64_t>& load,
                              int64_t step) {
  if (load.empty()) return;
  std::vector<double> limits, counts;
  double sum = 0, sum_sq = 0;
  for (size_t e = 0; e < load.size(); ++e) {
    limits.push_back(static_cast<double>(e + 1));
    counts.push_back(static_cast<double>(load[e]));
    // Each of expert e's items stands for the value e + 0.5, the middle of its bucket.
    double mid = static_cast<double>(e) + 0.5;
    sum += mid * static_cast<double>(load[e]);
    sum_sq += mid * mid * static_cast<double>(load[e]);
  }
  histogram(tag, limits, counts, 0.0, sum, sum_sq, step);
}

std::vector<switchyard::tb::Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SY_CHECK(in.good(), "cannot open the event file " << path);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  std::vector<switchyard::tb::Event> events;
  size_t at = 0;
  while (at < bytes.size()) {
    SY_CHECK(at + 12 <= bytes.size(),
             path << ": the file ends inside the header of the record at byte " << at);
    uint64_t len = get_le(p + at, 8);
    SY_CHECK(get_le(p + at + 8, 4) == masked_crc32c(p + at, 8),
             path << ": the length checksum of the record at byte " << at << " does not match");
    SY_CHECK(len <= bytes.size() && at + 12 + len + 4 <= bytes.size(),
             path << ": the file ends inside the record at byte " << at);
    const unsigned char* data = p + at + 12;
    SY_CHECK(get_le(data + len, 4) == masked_crc32c(data, len),
             path << ": the data checksum of the record at byte " << at << " does not match");
    switchyard::tb::Event e;
    SY_CHECK(e.ParseFromArray(data, static_cast<int>(len)),
             path << ": the record at byte " << at << " is not an Event");
    events.push_back(std::move(e));
    at += 12 + len + 4;
  }
  return events;
}

}  // namespace sy
