// TensorBoard event files: CRC-32C against the standard check value; the Event messages read back
// field by field; a file written by tensorboardX (an independent writer) read and its framing
// matched; a damaged or truncated file refused with the record's offset instead of half-read.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <vector>

#include "runtime/core/crc32c.h"
#include "runtime/core/error.h"
#include "runtime/train/event_writer.h"

namespace sy {
namespace {

std::string fresh_dir(const char* name) {
  std::string d = ::testing::TempDir() + "/sy_events_" + name + "_" + std::to_string(::getpid());
  std::filesystem::remove_all(d);
  return d;
}

std::string slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

TEST(EventWriter, Crc32cHasTheStandardCheckValue) {
  // The CRC-32C catalogue's check value: crc of the ASCII digits "123456789".
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_table("123456789", 9), 0xE3069283u);
}

// crc32c (the crc32 instruction where the CPU has SSE4.2, as here, else the table) agrees with the
// byte table on every length and alignment, and when a buffer is checksummed in pieces (crc carried
// over).
TEST(EventWriter, Crc32cInstructionMatchesTheTable) {
  std::vector<unsigned char> buf(1000);
  for (size_t i = 0; i < buf.size(); ++i) buf[i] = static_cast<unsigned char>(i * 131 + 7);
  for (size_t start : {0, 1, 3, 7})
    for (size_t len : {0, 1, 7, 8, 9, 63, 64, 65, 500, 993}) {
      EXPECT_EQ(crc32c(buf.data() + start, len), crc32c_table(buf.data() + start, len))
          << start << " " << len;
      const uint32_t head = crc32c(buf.data() + start, len / 2);
      EXPECT_EQ(crc32c(buf.data() + start + len / 2, len - len / 2, head),
                crc32c_table(buf.data() + start, len));
    }
}

TEST(EventWriter, ScalarsAndHistogramsReadBackFieldByField) {
  std::string dir = fresh_dir("roundtrip");
  std::string path;
  {
    EventWriter w(dir);
    path = w.path();
    EXPECT_EQ(std::filesystem::path(path).filename().string().rfind("events.out.tfevents.", 0), 0u);
    w.scalar("train/loss", 2.5, 7);
    w.scalar("val/ppl", 12.25, 8);
    w.expert_load("moe/block1.moe/load", {3, 0, 5}, 8);
  }
  auto events = read_events(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_GT(events[0].wall_time(), 1.6e9);  // seconds since 1970: after 2020
  EXPECT_EQ(events[1].step(), 7);
  ASSERT_EQ(events[1].summary().value_size(), 1);
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 2.5f);
  EXPECT_EQ(events[2].summary().value(0).simple_value(), 12.25f);
  const auto& h = events[3].summary().value(0).histo();
  EXPECT_EQ(events[3].summary().value(0).tag(), "moe/block1.moe/load");
  ASSERT_EQ(h.bucket_size(), 3);
  ASSERT_EQ(h.bucket_limit_size(), 3);
  EXPECT_EQ(h.bucket(0), 3);
  EXPECT_EQ(h.bucket(1), 0);
  EXPECT_EQ(h.bucket(2), 5);
  EXPECT_EQ(h.bucket_limit(2), 3);  // expert e's bucket is (e, e + 1]
  EXPECT_EQ(h.num(), 8);
  EXPECT_EQ(h.min(), 0);
  EXPECT_EQ(h.max(), 3);
  EXPECT_DOUBLE_EQ(h.sum(), 3 * 0.5 + 5 * 2.5);  // items at their bucket's middle
}

TEST(EventWriter, ReadsAFileWrittenByTensorboardX) {
  // An independent writer (tests/golden/make_tensorboard_fixture.py): read_events checks each
  // record's masked CRC-32C, so our framing and our Event schema agree with theirs.
  auto events = read_events(std::string(SY_GOLDEN_DIR) + "/tensorboardx_events.bin");
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[1].step(), 7);
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 2.5f);
  EXPECT_EQ(events[2].summary().value(0).tag(), "val/ppl");
  EXPECT_EQ(events[2].summary().value(0).simple_value(), 12.25f);
  const auto& h = events[3].summary().value(0).histo();
  EXPECT_EQ(events[3].step(), 8);
  ASSERT_EQ(h.bucket_size(), 3);
  EXPECT_EQ(h.bucket(2), 5);
  EXPECT_EQ(h.bucket_limit(1), 2);
  EXPECT_EQ(h.num(), 8);
}

TEST(EventWriter, OurRecordsCarryTheSameFramingAsTensorboardX) {
  // The file-version record is the same bytes in any writer but for the wall time, so compare its
  // framing with the fixture's: same length field, and the length's masked CRC (a function of
  // the length alone) identical.
  std::string dir = fresh_dir("framing");
  std::string ours;
  {
    EventWriter w(dir);
    ours = slurp(w.path());
  }
  std::string theirs = slurp(std::string(SY_GOLDEN_DIR) + "/tensorboardx_events.bin");
  ASSERT_GE(ours.size(), 12u);
  EXPECT_EQ(ours.substr(0, 12), theirs.substr(0, 12));
}

TEST(EventWriter, ADamagedOrTruncatedFileIsRefused) {
  std::string dir = fresh_dir("damage");
  std::string path;
  {
    EventWriter w(dir);
    path = w.path();
    w.scalar("train/loss", 1.0, 1);
    w.scalar("train/loss", 0.5, 2);
  }
  const std::string good = slurp(path);
  auto rewrite = [&](const std::string& bytes) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
  };
  std::string flipped = good;
  flipped[good.size() - 6] ^= 0x40;  // inside the last record's data
  rewrite(flipped);
  try {
    read_events(path);
    ADD_FAILURE() << "a flipped bit was not noticed";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("checksum"), std::string::npos) << e.what();
  }
  rewrite(good.substr(0, good.size() - 3));
  try {
    read_events(path);
    ADD_FAILURE() << "a truncated file was read";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("ends inside"), std::string::npos) << e.what();
  }
  rewrite(good);
  EXPECT_EQ(read_events(path).size(), 3u);
}

}  // namespace
}  // namespace sy
