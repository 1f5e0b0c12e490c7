// The step record's writers (runtime/train/step_writers.h): the console line in the documented
// format; the JSON line valid JSON whatever the numbers (a diverged step's NaN and infinities
// included) and read back into the same record; TensorBoard receiving every number of each MoE
// layer's record under moe/<layer>/<field> and its expert load as a histogram.
#include <gtest/gtest.h>

#include <unistd.h>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <google/protobuf/util/json_util.h>

#include "runtime/core/proto_json.h"
#include "runtime/train/expert_usage.h"
#include "runtime/train/step_writers.h"

namespace sy {
namespace {

pb::StepRecord a_step() {
  pb::StepRecord r;
  r.set_step(12);
  r.set_loss(2.34561);
  r.set_aux(0.0123);
  r.set_lr(3e-3);
  r.set_grad_norm(0.812);
  r.set_ms(41.23);
  r.set_tokens_per_s(99100);
  r.set_tflops(0.41);
  pb::MoeLayerStats* m = r.add_moe();
  m->set_layer("block1.moe");
  m->set_drop_rate(0.012);
  m->set_activation_ratio(1.0);
  m->set_a2a_ms(3.1);
  m->set_exchange_ms(8.2);
  m->set_overlapped(true);
  m->set_chunks(2);
  for (int l : {5, 0, 7}) m->add_load(l);
  m->mutable_forward()->set_route_ms(0.25);
  return r;
}

TEST(StepWriters, ConsoleLineHasTheDocumentedFields) {
  pb::StepRecord r = a_step();
  EXPECT_EQ(ConsoleWriter::line(r, 200),
            "step   12/200 | loss 2.3456 | aux 0.0123 | lr 3.00e-03 | norm 0.812 | 41.2 ms | "
            "99.1k tok/s | 0.41 TFLOP/s | moe drop 1.2% act 1.00 a2a 3.1 ms (of 8.2 ms run)");
  r.set_mfu(0.003);
  r.set_val_loss(std::log(18.0));
  const std::string line = ConsoleWriter::line(r, 200);
  EXPECT_NE(line.find("0.41 TFLOP/s (MFU 0.3%)"), std::string::npos) << line;
  EXPECT_NE(line.find("| val 2.8904 (ppl 18.00)"), std::string::npos) << line;
}

TEST(StepWriters, JsonLineIsValidForNonFiniteNumbersAndReadsBack) {
  pb::StepRecord r = a_step();
  r.set_loss(std::numeric_limits<double>::quiet_NaN());
  r.set_grad_norm(-std::numeric_limits<double>::infinity());
  const std::string line = json_line(r);
  EXPECT_EQ(line.find('\n'), std::string::npos);
  EXPECT_NE(line.find("\"loss\":\"NaN\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"grad_norm\":\"-Infinity\""), std::string::npos) << line;
  EXPECT_NE(line.find("\"moe\":[{\"layer\":\"block1.moe\""), std::string::npos) << line;
  pb::StepRecord back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(line, &back).ok()) << line;
  EXPECT_TRUE(std::isnan(back.loss()));
  EXPECT_EQ(back.grad_norm(), -std::numeric_limits<double>::infinity());
  back.clear_loss();
  r.clear_loss();
  EXPECT_EQ(back.SerializeAsString(), r.SerializeAsString());
}

TEST(StepWriters, TensorBoardGetsEveryNumberOfEachMoeRecord) {
  const std::string dir = ::testing::TempDir() + "/sy_step_tb_" + std::to_string(::getpid());
  std::filesystem::remove_all(dir);
  std::string path;
  {
    TensorBoardWriter w(dir);
    w.write(a_step());
  }
  for (const auto& e : std::filesystem::directory_iterator(dir)) path = e.path();
  std::map<std::string, double> scalars;
  std::map<std::string, double> histogram_items;
  for (const auto& ev : read_events(path))
    for (const auto& v : ev.summary().value()) {
      if (v.has_histo())
        for (double b : v.histo().bucket()) histogram_items[v.tag()] += b;
      else
        scalars[v.tag()] = v.simple_value();
    }
  EXPECT_FLOAT_EQ(scalars.at("train/loss"), 2.34561f);
  EXPECT_FLOAT_EQ(scalars.at("moe/block1.moe/drop_rate"), 0.012f);
  EXPECT_FLOAT_EQ(scalars.at("moe/block1.moe/chunks"), 2.0f);
  EXPECT_FLOAT_EQ(scalars.at("moe/block1.moe/overlapped"), 1.0f);
  EXPECT_FLOAT_EQ(scalars.at("moe/block1.moe/forward/route_ms"), 0.25f);
  EXPECT_EQ(scalars.count("moe/block1.moe/capacity"), 0u) << "unset fields are not written";
  EXPECT_EQ(histogram_items.at("moe/block1.moe/load"), 12.0);
  std::filesystem::remove_all(dir);
}

// The MH-MoE paper's activation ratio: selections over the whole pass against the threshold.
TEST(ExpertUsage, FrequenciesOverThePassAgainstTheThreshold) {
  ExpertUsage usage(0.1);
  pb::MoeLayerStats a;
  a.set_layer("block1.moe");
  a.set_items_world(100);
  for (int64_t n : {50, 45, 5, 0}) a.add_selected(n);
  pb::MoeLayerStats b = a;
  b.clear_selected();
  for (int64_t n : {50, 35, 10, 5}) b.add_selected(n);
  usage.add(a);
  usage.add(b);
  const std::vector<pb::ExpertUsage> r = usage.records();
  ASSERT_EQ(r.size(), 1u);
  EXPECT_EQ(r[0].items(), 200);
  ASSERT_EQ(r[0].frequency_size(), 4);
  EXPECT_DOUBLE_EQ(r[0].frequency(0), 0.5);
  EXPECT_DOUBLE_EQ(r[0].frequency(1), 0.4);
  EXPECT_DOUBLE_EQ(r[0].frequency(2), 0.075);
  EXPECT_DOUBLE_EQ(r[0].frequency(3), 0.025);
  EXPECT_DOUBLE_EQ(r[0].activation_ratio(), 0.5);  // two of four exceed 0.1
  EXPECT_DOUBLE_EQ(r[0].threshold(), 0.1);
}

}  // namespace
}  // namespace sy
