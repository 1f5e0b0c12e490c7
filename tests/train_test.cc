// Data shards, the byte-level tokenizer, the batch sampler, the learning-rate schedule and AdamW.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>

#include "runtime/ops/ops.h"
#include "runtime/train/optimizer.h"
#include "runtime/train/token_data.h"
#include "runtime/train/token_stream.h"
#include "tests/test_world.h"

namespace sy {
namespace {

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/sy_" + std::to_string(testing::world()->rank()) + "_" + name;
}

TEST(TokenData, ShardsRoundTripInBothFormatsAndBadFilesAreNamed) {
  std::vector<uint16_t> tokens = {0, 1, 255, 256, 65535, 42};
  for (pb::DataFormat f : {pb::LLMC, pb::NANOGPT_U16}) {
    std::string path = temp_path("shard.bin");
    write_shard(path, tokens, f);
    EXPECT_EQ(read_shard(path, f), tokens);
    std::remove(path.c_str());
  }
  // An llm.c reader given a raw file says so.
  std::string raw = temp_path("raw.bin");
  std::vector<uint16_t> many(600, 7);
  write_shard(raw, many, pb::NANOGPT_U16);
  try {
    read_shard(raw, pb::LLMC);
    FAIL() << "a raw shard read as llm.c must throw";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("NANOGPT_U16"), std::string::npos) << e.what();
  }
  // A truncated llm.c shard is caught.
  std::string cut = temp_path("cut.bin");
  write_shard(cut, many, pb::LLMC);
  {
    std::ifstream in(cut, std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    std::ofstream(cut, std::ios::binary).write(bytes.data(), bytes.size() - 10);
  }
  EXPECT_THROW(read_shard(cut, pb::LLMC), Error);
  EXPECT_THROW(read_shard(temp_path("missing.bin"), pb::LLMC), Error);
  std::remove(raw.c_str());
  std::remove(cut.c_str());
}

// Issue 14: an llm.c file read as raw tokens would train on its header; token ids beyond the
// vocabulary were found only when their batch arrived, in gather_rows, without the file's name.
TEST(TokenData, AHeaderReadAsTokensAndIdsOutsideTheVocabularyAreRefusedAtLoad) {
  std::string path = temp_path("llmc.bin");
  write_shard(path, std::vector<uint16_t>(100, 3), pb::LLMC);
  std::string message;
  try {
    read_shard(path, pb::NANOGPT_U16);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("set data.format: LLMC"), std::string::npos) << message;
  std::remove(path.c_str());
  std::string wide = temp_path("x.bin");
  write_shard(wide, {1, 2, 300, 4, 999}, pb::LLMC);
  TokenStream stream(wide, pb::LLMC);
  EXPECT_NO_THROW(stream.check_range(1000));
  message.clear();
  try {
    stream.check_range(256);
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find(wide + ": token 300 (token 2, byte offset 1028)"), std::string::npos)
      << message;
  std::remove(wide.c_str());
}

// Shards are read as one stream from a list and globs (name order), across shard boundaries;
// llm.c's LLaMA-3 shards (magic 20240801, version 7, uint32 tokens) read too.
TEST(TokenData, StreamsOfShardsFromListsAndGlobsAndLlama3Shards) {
  const std::string dir = temp_path("stream");
  std::filesystem::create_directories(dir);
  write_shard(dir + "/part_1.bin", {10, 11, 12}, pb::LLMC);
  write_shard(dir + "/part_0.bin", {0, 1, 2, 3}, pb::LLMC);
  {  // a LLaMA-3 shard, written as llm.c writes it
    int32_t header[256] = {};
    header[0] = kLlmcLlama3Magic;
    header[1] = kLlmcLlama3Version;
    header[2] = 2;
    const uint32_t tokens[2] = {100000, 7};
    std::ofstream f(dir + "/llama.bin", std::ios::binary);
    f.write(reinterpret_cast<const char*>(header), sizeof header);
    f.write(reinterpret_cast<const char*>(tokens), sizeof tokens);
  }
  TokenStream s(dir + "/part_*.bin," + dir + "/llama.bin", pb::LLMC);
  ASSERT_EQ(s.size(), 9);
  std::vector<int32_t> all(9);
  s.copy(0, 9, all.data());
  EXPECT_EQ(all, (std::vector<int32_t>{0, 1, 2, 3, 10, 11, 12, 100000, 7}));
  std::vector<int32_t> middle(3);
  s.copy(3, 3, middle.data());  // across the first boundary
  EXPECT_EQ(middle, (std::vector<int32_t>{3, 10, 11}));
  EXPECT_THROW(TokenStream(dir + "/nothing_*.bin", pb::LLMC), Error);
  std::filesystem::remove_all(dir);
}

TEST(TokenData, PrepareSplitsBytesIntoTrainAndVal) {
  std::string a = temp_path("a.txt"), b = temp_path("b.txt");
  std::ofstream(a) << "hello world\n";
  std::ofstream(b) << "second document, a little longer than the first\n";
  std::string dir = temp_path("prepared");
  ::mkdir(dir.c_str(), 0755);
  PrepareStats st = prepare_text({a, b}, dir, 0.25, pb::LLMC);
  auto train = read_shard(dir + "/train.bin", pb::LLMC),
       val = read_shard(dir + "/val.bin", pb::LLMC);
  EXPECT_EQ(st.documents, 2);
  EXPECT_EQ(static_cast<int64_t>(train.size()), st.train_tokens);
  EXPECT_EQ(static_cast<int64_t>(val.size()), st.val_tokens);
  std::string all = "hello world\n";
  all.push_back('\0');
  all += "second document, a little longer than the first\n";
  all.push_back('\0');
  ASSERT_EQ(train.size() + val.size(), all.size());
  for (size_t i = 0; i < train.size(); ++i) EXPECT_EQ(train[i], static_cast<unsigned char>(all[i]));
  EXPECT_EQ(val.back(), kEndOfDocument);
  EXPECT_EQ(st.train_path, dir + "/train.bin");
  // Bounded shards: the same tokens in numbered files, read back through the glob.
  std::string sharded = temp_path("sharded");
  ::mkdir(sharded.c_str(), 0755);
  PrepareStats st2 = prepare_text({a, b}, sharded, 0.25, pb::LLMC, 10);
  EXPECT_EQ(st2.train_path, sharded + "/train_*.bin");
  EXPECT_TRUE(std::filesystem::exists(sharded + "/train_000004.bin"));
  TokenStream s2(st2.train_path, pb::LLMC);
  ASSERT_EQ(s2.size(), st.train_tokens);
  std::vector<int32_t> back(static_cast<size_t>(s2.size()));
  s2.copy(0, s2.size(), back.data());
  for (size_t i = 0; i < back.size(); ++i) EXPECT_EQ(back[i], train[i]) << i;
  std::filesystem::remove_all(sharded);
  std::remove(a.c_str());
  std::remove(b.c_str());
}

TEST(TokenData, SamplerGivesDisjointSlicesAndTheSameGlobalBatchForAnyWorld) {
  std::vector<uint16_t> tokens(1000);
  for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<uint16_t>(i % 997);
  BatchSampler s(tokens, 8, 12, 5);
  for (int64_t step : {0, 3, 20}) {
    std::vector<int32_t> whole_in, whole_tg;
    s.batch(whole_in, whole_tg, step, 0, 1);
    for (int w : {2, 3, 4}) {
      std::vector<int32_t> joined;
      for (int r = 0; r < w; ++r) {
        std::vector<int32_t> in, tg;
        s.batch(in, tg, step, r, w);
        joined.insert(joined.end(), in.begin(), in.end());
        for (size_t i = 0; i < in.size(); ++i) EXPECT_EQ(tg[i], (in[i] + 1) % 997);
      }
      EXPECT_EQ(joined, whole_in) << "world " << w;
    }
    // The sequences of one batch are different windows.
    std::set<int32_t> starts;
    for (int b = 0; b < 12; ++b) starts.insert(whole_in[b * 8]);
    EXPECT_EQ(starts.size(), 12u);
  }
  // Another seed visits another order; the same seed the same.
  BatchSampler s2(tokens, 8, 12, 6), s3(tokens, 8, 12, 5);
  std::vector<int32_t> a, b, c, t;
  s.batch(a, t, 1, 0, 1);
  s2.batch(b, t, 1, 0, 1);
  s3.batch(c, t, 1, 0, 1);
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
  EXPECT_THROW(s.batch(a, t, 0, 0, 5), Error);
}

TEST(Schedule, WarmupThenCosineToTheFloor) {
  pb::OptimizerConfig o;
  o.set_lr(1.0f);
  o.set_min_lr_ratio(0.1f);
  pb::ScheduleConfig s;
  s.set_steps(110);
  s.set_warmup_steps(10);
  EXPECT_FLOAT_EQ(learning_rate(o, s, 0), 0.1f);
  EXPECT_FLOAT_EQ(learning_rate(o, s, 9), 1.0f);
  EXPECT_FLOAT_EQ(learning_rate(o, s, 10), 1.0f);
  EXPECT_NEAR(learning_rate(o, s, 60), 0.55f, 1e-6);
  EXPECT_NEAR(learning_rate(o, s, 110), 0.1f, 1e-6);
  for (int64_t t = 11; t < 110; ++t) EXPECT_LT(learning_rate(o, s, t), learning_rate(o, s, t - 1));
}

TEST(AdamW, MatchesTheReferenceUpdateAndDecaysOnlyMatrices) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  Param w("w", {2, 2}, Device::cpu()), b("b", {2}, Device::cpu());
  w.value.copy_from(Tensor::from_vector<float>({1, -2, 3, 0.5f}, {2, 2}));
  b.value.copy_from(Tensor::from_vector<float>({1, 1}, {2}));
  pb::OptimizerConfig c;
  c.set_weight_decay(0.1f);
  c.set_grad_clip(0);
  AdamW opt({&w, &b}, c);
  std::vector<double> pw = {1, -2, 3, 0.5}, pb_ = {1, 1}, mw(4, 0), vw(4, 0), mb(2, 0), vb(2, 0);
  for (int t = 1; t <= 3; ++t) {
    std::vector<float> gw = {0.1f * t, -0.2f, 0.3f, 0.0f}, gb = {0.5f, -0.5f * t};
    w.grad.copy_from(Tensor::from_vector(gw, {2, 2}));
    b.grad.copy_from(Tensor::from_vector(gb, {2}));
    opt.step(0.01f, g);
    auto ref = [&](std::vector<double>& p, std::vector<double>& m, std::vector<double>& v,
                   const std::vector<float>& gr, double wd) {
      for (size_t i = 0; i < p.size(); ++i) {
        m[i] = 0.9 * m[i] + 0.1 * gr[i];
        v[i] = 0.95 * v[i] + 0.05 * double(gr[i]) * gr[i];
        double mh = m[i] / (1 - std::pow(0.9, t)), vh = v[i] / (1 - std::pow(0.95, t));
        p[i] -= 0.01 * (mh / (std::sqrt(vh) + 1e-8) + wd * p[i]);
      }
    };
    ref(pw, mw, vw, gw, 0.1);
    ref(pb_, mb, vb, gb, 0.0);
  }
  auto wv = w.value.to_vector<float>(), bv = b.value.to_vector<float>();
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(wv[i], pw[i], 1e-6);
  for (int i = 0; i < 2; ++i) EXPECT_NEAR(bv[i], pb_[i], 1e-6);
}

// Parameters with their own settings (M2's filters) are updated with their learning rate (the
// schedule's value scaled by lr / optimizer.lr) and decay, vectors included; their neighbours in
// the flat buffer keep the optimizer's.
TEST(AdamW, ParametersWithTheirOwnLearningRateAndDecay) {
  auto world = testing::world();
  auto self = std::shared_ptr<Communicator>(world->split(world->rank(), 0, "self"));
  ProcessGroups g = make_process_groups(self, 1);
  Param a("a", {2, 2}, Device::cpu()), f("f", {2}, Device::cpu()), b("b", {2, 1}, Device::cpu());
  f.lr = 0.02f;
  f.weight_decay = 0.5f;
  for (Param* p : {&a, &f, &b}) p->value.fill(1.0);
  pb::OptimizerConfig c;
  c.set_lr(0.01f);
  c.set_weight_decay(0.1f);
  c.set_grad_clip(0);
  AdamW opt({&a, &f, &b}, c);
  for (Param* p : {&a, &f, &b}) p->grad.fill(0.25);
  opt.step(0.005f, g);  // half the peak: f gets 0.01
  // The first Adam step moves by lr·(1 + wd·p) for a positive gradient: m̂/√v̂ = 1.
  auto moved = [](double lr, double wd) { return 1.0 - lr * (1.0 / (1.0 + 1e-8 / 0.25) + wd); };
  for (float v : a.value.to_vector<float>()) EXPECT_NEAR(v, moved(0.005, 0.1), 1e-6);
  for (float v : f.value.to_vector<float>()) EXPECT_NEAR(v, moved(0.01, 0.5), 1e-6);
  for (float v : b.value.to_vector<float>()) EXPECT_NEAR(v, moved(0.005, 0.1), 1e-6);
}

TEST(AdamW, ClipsToTheGlobalNormAcrossRanks) {
  auto world = testing::world();
  const int w = world->size();
  ProcessGroups g = make_process_groups(world, w);
  // A dense parameter (same gradient everywhere) and an expert one (different on every rank).
  Param dense("dense", {2}, Device::cpu()), expert("expert", {1}, Device::cpu(), true);
  const float mine = static_cast<float>(world->rank() + 1);
  pb::OptimizerConfig c;
  c.set_grad_clip(1.0f);
  AdamW opt({&dense, &expert}, c);  // moves both into flat storage: gradients set afterwards
  dense.grad.copy_from(Tensor::from_vector<float>({3, 4}, {2}));
  expert.grad.copy_from(Tensor::from_vector<float>({mine}, {1}));
  double want2 = 25;
  for (int r = 1; r <= w; ++r) want2 += double(r) * r;
  double norm = opt.step(1e-3f, g);
  EXPECT_NEAR(norm, std::sqrt(want2), 1e-9);
  // The first moment after one step is (1 − β1) times the clipped gradient; the stored gradient
  // itself is left as it was (the clip factor is applied inside the fused step).
  const double s = 1.0 / (std::sqrt(want2) + 1e-6);
  auto m_dense = opt.first_moments()[0].to_vector<float>();
  auto m_expert = opt.first_moments()[1].to_vector<float>();
  EXPECT_NEAR(m_dense[0], 0.1 * 3 * s, 1e-7);
  EXPECT_NEAR(m_dense[1], 0.1 * 4 * s, 1e-7);
  EXPECT_NEAR(m_expert[0], 0.1 * mine * s, 1e-7);
  EXPECT_EQ(expert.grad.to_vector<float>()[0], mine);
}

TEST(AdamW, NormSquaresCountDenseOnceAndExpertsOverTheEpGroup) {
  auto world = testing::world();
  const int w = world->size();
  ProcessGroups g = make_process_groups(world, w);
  Param dense("dense", {2, 3}, Device::cpu()), expert("expert", {5}, Device::cpu(), true);
  FlatParams flat({&dense, &expert}, 0);
  dense.grad.fill(2.0);
  expert.grad.fill(static_cast<double>(world->rank()));
  auto sq = grad_norm_squares(flat, g).to_vector<double>();
  double expert_want = 0;
  for (int r = 0; r < w; ++r) expert_want += 5.0 * r * r;
  EXPECT_EQ(sq[0], 6 * 4.0);
  EXPECT_EQ(sq[1], expert_want);
}

}  // namespace
}  // namespace sy
