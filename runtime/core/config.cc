#include "runtime/core/config.h"

#include <cmath>

#include "runtime/core/config_defaults.h"
#include "runtime/core/deadline.h"

#include <google/protobuf/io/tokenizer.h>
#include <google/protobuf/text_format.h>

#include <fstream>
#include <set>
#include <sstream>

// A config problem: the same on every rank, so main reports it once (exit 2) without an abort.
#define SY_CONFIG_CHECK(cond, msg)                    \
  do {                                                \
    if (!(cond)) SY_THROW_AS(::sy::ConfigError, msg); \
  } while (0)

namespace sy {

namespace {

namespace gp = google::protobuf;

// The enum field called `name` anywhere in the config's messages (breadth first from RunConfig).
const gp::FieldDescriptor* find_enum_field(const std::string& name) {
  std::vector<const gp::Descriptor*> queue = {pb::RunConfig::descriptor()};
  std::set<const gp::Descriptor*> seen;
  for (size_t q = 0; q < queue.size(); ++q) {
    for (int i = 0; i < queue[q]->field_count(); ++i) {
      const gp::FieldDescriptor* f = queue[q]->field(i);
      if (f->enum_type() && f->name() == name) return f;
      if (f->message_type() && seen.insert(f->message_type()).second)
        queue.push_back(f->message_type());
    }
  }
  return nullptr;
}

// Protobuf's 'Unknown enumeration value of "GLOO" for field "comm_backend".' with the choices.
std::string with_enum_choices(const std::string& message) {
  const std::string key = "\" for field \"";
  const size_t at = message.find(key);
  if (message.find("Unknown enumeration value") == std::string::npos || at == std::string::npos)
    return message;
  const size_t begin = at + key.size(), end = message.find('"', begin);
  const gp::FieldDescriptor* f = find_enum_field(message.substr(begin, end - begin));
  return f ? message + " Valid values: " + enum_choices(f) + "." : message;
}

class CollectErrors : public gp::io::ErrorCollector {
 public:
  explicit CollectErrors(std::string source) : source_(std::move(source)) {}
  void AddError(int line, gp::io::ColumnNumber column, const std::string& message) override {
    // protobuf counts lines and columns from 0; editors count from 1.
    errors_ << "\n  " << source_ << ":" << line + 1 << ":" << column + 1 << ": "
            << with_enum_choices(message);
    ++count_;
  }
  void AddWarning(int line, gp::io::ColumnNumber column, const std::string& message) override {
    AddError(line, column, message);
  }
  std::string text() const { return errors_.str(); }
  int count() const { return count_; }

 private:
  std::string source_;
  std::ostringstream errors_;
  int count_ = 0;
};

}  // namespace

pb::RunConfig parse_config_text(const std::string& text, const std::string& source) {
  pb::RunConfig config;
  CollectErrors errors(source);
  gp::TextFormat::Parser parser;
  parser.RecordErrorsTo(&errors);
  parser.AllowUnknownField(false);
  if (!parser.ParseFromString(text, &config) || errors.count() > 0) {
    SY_THROW_AS(ConfigError,
                "cannot parse config "
                    << source << ":" << errors.text()
                    << "\n  (fields and their meaning: proto/switchyard/config.proto)");
  }
  return config;
}

pb::RunConfig load_config_file(const std::string& path) {
  std::ifstream in(path);
  SY_CONFIG_CHECK(in.good(), "cannot open config file '" << path
                                                         << "'; check the path (configs ship in "
                                                            "launch/configs/)");
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_config_text(ss.str(), path);
}

namespace {

// A repeated scalar field's new values from "v" or "[v1, v2, …]" (text format's list syntax).
void set_repeated_scalar(gp::Message* msg, const gp::FieldDescriptor* field,
                         const std::string& value, const std::string& assignment) {
  msg->GetReflection()->ClearField(msg, field);
  gp::TextFormat::Parser parser;
  parser.AllowPartialMessage(true);
  SY_CONFIG_CHECK(parser.MergeFromString(field->name() + ": " + value, msg),
                  "override '" << assignment << "': '" << value
                               << "' is not a value or a [list] for " << field->full_name() << " ("
                               << field->type_name() << ")");
}

}  // namespace

void apply_override(pb::RunConfig* config, const std::string& assignment) {
  auto eq = assignment.find('=');
  SY_CONFIG_CHECK(eq != std::string::npos && eq > 0,
                  "override '" << assignment << "' must look like path.to.field=value");
  std::string path = assignment.substr(0, eq), value = assignment.substr(eq + 1);

  gp::Message* msg = config;
  std::stringstream parts(path);
  std::string part;
  std::vector<std::string> names;
  while (std::getline(parts, part, '.')) names.push_back(part);
  for (size_t i = 0; i < names.size(); ++i) {
    std::string name = names[i];
    int index = -1;
    auto br = name.find('[');
    if (br != std::string::npos) {
      SY_CONFIG_CHECK(name.back() == ']',
                      "override '" << assignment << "': bad index in '" << name << "'");
      index = std::stoi(name.substr(br + 1, name.size() - br - 2));
      name = name.substr(0, br);
    }
    const gp::Descriptor* desc = msg->GetDescriptor();
    const gp::FieldDescriptor* field = desc->FindFieldByName(name);
    SY_CONFIG_CHECK(field != nullptr, "override '" << assignment << "': " << desc->full_name()
                                                   << " has no field '" << name << "'");
    const gp::Reflection* refl = msg->GetReflection();
    bool last = i + 1 == names.size();
    if (!last) {
      SY_CONFIG_CHECK(field->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE,
                      "override '" << assignment << "': '" << name << "' is not a message");
      if (field->is_repeated()) {
        int size = refl->FieldSize(*msg, field);
        SY_CONFIG_CHECK(index >= 0 && index <= size, "override '" << assignment << "': '" << name
                                                                  << "' needs an index in [0, "
                                                                  << size << "]");
        msg = index == size ? refl->AddMessage(msg, field)
                            : refl->MutableRepeatedMessage(msg, field, index);
      } else {
        msg = refl->MutableMessage(msg, field);
      }
      continue;
    }
    SY_CONFIG_CHECK(field->cpp_type() != gp::FieldDescriptor::CPPTYPE_MESSAGE,
                    "override '" << assignment << "': '" << name
                                 << "' is a message; set its fields (" << name << ".field=value)");
    if (field->is_repeated()) return set_repeated_scalar(msg, field, value, assignment);
    std::string text = value;
    if (field->cpp_type() == gp::FieldDescriptor::CPPTYPE_STRING &&
        (text.empty() || text.front() != '"'))
      text = "\"" + gp::CEscape(text) + "\"";
    CollectErrors quiet("override");  // the message below says it all: no protobuf log line
    gp::TextFormat::Parser value_parser;
    value_parser.RecordErrorsTo(&quiet);
    SY_CONFIG_CHECK(
        value_parser.ParseFieldValueFromString(text, field, msg),
        "override '" << assignment << "': '" << value << "' is not a valid value for "
                     << field->full_name() << " (" << field->type_name()
                     << (field->enum_type() ? ": " + enum_choices(field) : std::string()) << ")");
  }
}

void apply_overrides(pb::RunConfig* config, const std::vector<std::string>& assignments) {
  for (const auto& a : assignments) apply_override(config, a);
}

pb::MoeConfig moe_for_layer(const pb::ModelConfig& model, int layer) {
  pb::MoeConfig moe = model.moe();
  for (const auto& o : model.moe_layer())
    if (o.layer() == layer) moe.MergeFrom(o.moe());
  return moe;
}

namespace {

void check_moe(std::vector<std::string>& bad, const pb::MoeConfig& moe, const std::string& where,
               int ep, int d_model) {
  int e = moe.num_experts();
  if (e < 1) bad.push_back(where + ".num_experts = " + std::to_string(e) + ": must be ≥ 1");
  if (e >= 1 && e % ep != 0)
    bad.push_back(where + ".num_experts = " + std::to_string(e) + " is not divisible by ep = " +
                  std::to_string(ep) + ": use a multiple of ep experts, or a smaller ep");
  if (moe.top_k() < 1 || moe.top_k() > e)
    bad.push_back(where + ".top_k = " + std::to_string(moe.top_k()) + ": must be in [1, " +
                  std::to_string(e) + "]");
  if (moe.router() == pb::BASE && moe.top_k() != 1)
    bad.push_back(where + ": BASE routing assigns one expert per item; set top_k: 1");
  const bool ffn = moe.expert() == pb::FFN_GELU || moe.expert() == pb::SWIGLU;
  if (moe.router() == pb::BASE && moe.base_form() != pb::MoeConfig::GATED_MIX && !ffn)
    bad.push_back(where +
                  ": BASE in fairseq's form (base_form FAIRSEQ, the default) starts the "
                  "experts' FFN output weight at zero: use FFN_GELU or SWIGLU experts, or "
                  "base_form: GATED_MIX");
  if (moe.expert_bias() && moe.expert() != pb::FFN_GELU && moe.expert() != pb::SWIGLU)
    bad.push_back(where + ".expert_bias applies to FFN_GELU and SWIGLU experts, not " +
                  pb::ExpertKind_Name(moe.expert()));
  if (moe.renormalize() && moe.top_k() == 1)
    bad.push_back(where +
                  ".renormalize with top_k 1 makes every gate weight 1 (the router gets "
                  "no gradient from the task loss): set renormalize: false or top_k ≥ 2");
  if (!moe.dropless() && !(moe.capacity_factor() > 0))
    bad.push_back(where + ".capacity_factor must be > 0 (or set dropless: true)");
  if (moe.num_heads() < 1 || (d_model > 0 && d_model % moe.num_heads() != 0))
    bad.push_back(where + ".num_heads = " + std::to_string(moe.num_heads()) +
                  " must be ≥ 1 and divide model.d_model = " + std::to_string(d_model));
  if (moe.d_expert() < 0) bad.push_back(where + ".d_expert must be ≥ 0 (0 = 4 · width)");
  if (moe.router() == pb::XMOE_COSINE && !(moe.xmoe_temperature() > 0))
    bad.push_back(where + ".xmoe_temperature must be > 0");
}

}  // namespace

bool is_attention_family(pb::ModelFamily f) {
  return f == pb::TRANSFORMER || f == pb::TRANSFORMER_MOE || f == pb::MH_MOE || f == pb::BERT;
}

bool is_masked_lm(pb::ModelFamily f) {
  return f == pb::M2_BERT || f == pb::BERT;
}

bool has_moe_layers(pb::ModelFamily f) {
  return f == pb::TRANSFORMER_MOE || f == pb::MH_MOE || f == pb::SMLP;
}

bool is_m2_family(pb::ModelFamily f) {
  return f == pb::M2_GPT || f == pb::M2_BERT;
}

pb::ModelConfig::Position resolved_position(const pb::ModelConfig& m) {
  if (m.position() != pb::ModelConfig::POSITION_UNSPECIFIED) return m.position();
  if (m.family() == pb::BERT) return pb::ModelConfig::LEARNED;  // BERT's absolute positions
  return is_attention_family(m.family()) ? pb::ModelConfig::ROPE : pb::ModelConfig::NONE;
}

namespace {

using Problems = std::vector<std::string>;

int ffn_width(const pb::ModelConfig& m) {
  return m.d_ff() > 0 ? m.d_ff() : 4 * m.d_model();
}

// The parallel settings; returns the ep the later checks may use (1 when ep itself is invalid).
int check_parallel(Problems& bad, const pb::ParallelConfig& p, int world_size) {
  int ep = p.ep();
  if (world_size < 1) bad.push_back("world size must be ≥ 1");
  if (ep < 1) {
    bad.push_back("parallel.ep = " + std::to_string(ep) + ": must be ≥ 1");
    ep = 1;
  } else if (world_size % ep != 0) {
    bad.push_back("parallel.ep = " + std::to_string(ep) + " does not divide the world size " +
                  std::to_string(world_size) +
                  ": launch a multiple of ep ranks (mpirun -np), or "
                  "set parallel.ep to a divisor of " +
                  std::to_string(world_size));
  }
  if (p.overlap_chunks() < 0) bad.push_back("parallel.overlap_chunks must be ≥ 0 (0 = off)");
  if (p.ranks_per_node() < 0 || (p.ranks_per_node() > 0 && world_size % p.ranks_per_node() != 0))
    bad.push_back("parallel.ranks_per_node = " + std::to_string(p.ranks_per_node()) +
                  " must be 0 (the nodes MPI reports) or divide the world size " +
                  std::to_string(world_size));
  if (!(p.comm_timeout_s() > 0)) bad.push_back("parallel.comm_timeout_s must be > 0 seconds");
  if (!(p.grad_bucket_mb() >= 0 && std::isfinite(p.grad_bucket_mb())))
    bad.push_back("parallel.grad_bucket_mb must be ≥ 0 MiB (0 = one all-reduce per parameter)");
  if (p.comm_backend() == pb::NCCL && p.device() != pb::CUDA)
    bad.push_back(
        "parallel.comm_backend = NCCL needs parallel.device = CUDA (NCCL moves GPU "
        "buffers); use comm_backend: MPI on the CPU");
  return ep;
}

void check_model_sizes(Problems& bad, const pb::ModelConfig& m) {
  if (m.family() == pb::MODEL_FAMILY_UNSPECIFIED) bad.push_back("model.family must be set");
  if (m.vocab_size() < 1) bad.push_back("model.vocab_size must be ≥ 1");
  if (m.seq_len() < 1) bad.push_back("model.seq_len must be ≥ 1");
  if (m.d_model() < 1) bad.push_back("model.d_model must be ≥ 1");
  if (m.n_heads() < 1 || (m.d_model() > 0 && m.d_model() % m.n_heads() != 0))
    bad.push_back("model.n_heads = " + std::to_string(m.n_heads()) +
                  " must be ≥ 1 and divide model.d_model = " + std::to_string(m.d_model()));
  if (m.n_layers() < 0) bad.push_back("model.n_layers must be ≥ 0");
  if (m.moe_freq() < 1) bad.push_back("model.moe_freq must be ≥ 1");
  const bool moe_every_kth = m.family() == pb::TRANSFORMER_MOE || m.family() == pb::MH_MOE;
  if (moe_every_kth && m.moe_freq() > m.n_layers())
    bad.push_back("model.moe_freq = " + std::to_string(m.moe_freq()) +
                  " > model.n_layers = " + std::to_string(m.n_layers()) +
                  ": no block would have a MoE layer; lower moe_freq or use the dense family");
  if (m.d_ff() < 0) bad.push_back("model.d_ff must be ≥ 0 (0 = 4 · d_model)");
}

// Norm, post-norm and positions: each applies to some families only.
void check_model_options(Problems& bad, const pb::ModelConfig& m) {
  const bool attention = is_attention_family(m.family());
  const std::string family = pb::ModelFamily_Name(m.family());
  if (m.norm() != pb::ModelConfig::NORM_UNSPECIFIED && !attention)
    bad.push_back("model.norm chooses the attention families' pre-norm; " + family +
                  " uses LayerNorm: leave it unset");
  if (m.post_norm() && !is_m2_family(m.family()))
    bad.push_back("model.post_norm applies to the M2 families' blocks, not " + family);
  if (m.has_m2() && !is_m2_family(m.family()))
    bad.push_back("model.m2 configures the M2 families' mixer and blocks, not " + family);
  if (m.position() == pb::ModelConfig::ROPE && !attention)
    bad.push_back("model.position = ROPE rotates attention's queries and keys; " + family +
                  " has no attention (use LEARNED or NONE, or leave it unset)");
  if (resolved_position(m) == pb::ModelConfig::ROPE) {
    const int dh = m.n_heads() > 0 ? m.d_model() / m.n_heads() : 0;
    if (dh % 2 != 0)
      bad.push_back(
          "rotary positions need an even head width: d_model / n_heads = " + std::to_string(dh) +
          " (change model.d_model or model.n_heads, or set "
          "model.position: LEARNED or NONE)");
    if (!(m.rope_base() > 1)) bad.push_back("model.rope_base must be > 1");
  }
}

// The model-wide MoE settings and every per-layer override.
void check_moe_layers(Problems& bad, const pb::ModelConfig& m, int ep) {
  if (has_moe_layers(m.family())) check_moe(bad, m.moe(), "model.moe", ep, m.d_model());
  std::set<int> seen;
  const int n_blocks =
      m.family() == pb::SMLP ? m.n_dense_blocks() + m.n_sparse_blocks() : m.n_layers();
  for (int i = 0; i < m.moe_layer_size(); ++i) {
    const auto& o = m.moe_layer(i);
    std::string where = "model.moe_layer[" + std::to_string(i) + "]";
    if (o.layer() < 0 || o.layer() >= n_blocks)
      bad.push_back(where + ".layer = " + std::to_string(o.layer()) + " is not a block in [0, " +
                    std::to_string(n_blocks) + ")");
    if (!seen.insert(o.layer()).second)
      bad.push_back(where + ".layer = " + std::to_string(o.layer()) + " is given twice");
    check_moe(bad, moe_for_layer(m, o.layer()), where + ".moe", ep, m.d_model());
  }
}

void check_smlp(Problems& bad, const pb::ModelConfig& m, int ep) {
  if (m.n_dense_blocks() < 0 || m.n_sparse_blocks() < 0 ||
      m.n_dense_blocks() + m.n_sparse_blocks() < 1)
    bad.push_back("model.n_dense_blocks + model.n_sparse_blocks must be ≥ 1, each ≥ 0");
  const int f = ffn_width(m);
  const int e = m.smoe_experts() > 0 ? m.smoe_experts() : m.moe().num_experts();
  if (e >= 1 && f % e != 0)
    bad.push_back("sMLP cuts the SGU width (model.d_ff, or 4 · d_model = " + std::to_string(f) +
                  ") into " + std::to_string(e) +
                  " sMoE experts' channel chunks (model.smoe_experts, else moe.num_experts): "
                  "make it divisible");
  if (m.smoe_experts() < 0 || (m.smoe_experts() > 0 && m.smoe_experts() % ep != 0))
    bad.push_back("model.smoe_experts = " + std::to_string(m.smoe_experts()) +
                  " must be ≥ 0 and divisible by ep = " + std::to_string(ep));
  if (!(m.prefix_fraction() > 0 && m.prefix_fraction() < 1))
    bad.push_back("model.prefix_fraction must be in (0, 1)");
}

void check_m2(Problems& bad, const pb::ModelConfig& m) {
  const int f = ffn_width(m);
  if (m.m2_blocks() < 1 || m.d_model() % m.m2_blocks() != 0 || f % m.m2_blocks() != 0)
    bad.push_back("model.m2_blocks = " + std::to_string(m.m2_blocks()) +
                  " must divide model.d_model and the MLP width " + std::to_string(f));
  if (m.seq_len() < 3) bad.push_back("M2 needs model.seq_len ≥ 3 (its short convolution)");
  const pb::M2Config& c = m.m2();
  if (c.filter_heads() < 1 || m.d_model() % c.filter_heads() != 0)
    bad.push_back("model.m2.filter_heads = " + std::to_string(c.filter_heads()) +
                  " must divide model.d_model = " + std::to_string(m.d_model()));
  if (c.filter_features() < 3 || c.filter_features() % 2 == 0)
    bad.push_back(
        "model.m2.filter_features must be odd and ≥ 3 (the position, then cos and sin "
        "bands), got " +
        std::to_string(c.filter_features()));
  if (c.filter_width() < 1 || c.filter_inner_layers() < 0 || c.filter_lr() < 0)
    bad.push_back("model.m2: filter_width must be ≥ 1, filter_inner_layers and filter_lr ≥ 0");
}

// What only some families have: sMLP's blocks and routing, M2's blocks, masked-LM masking,
// suffix-only scoring.
void check_family_rules(Problems& bad, const pb::ModelConfig& m, int ep) {
  if (m.family() == pb::SMLP) check_smlp(bad, m, ep);
  if (is_m2_family(m.family())) check_m2(bad, m);
  if (m.score_suffix_only() && !(m.prefix_fraction() > 0 && m.prefix_fraction() < 1))
    bad.push_back(
        "model.score_suffix_only scores from ⌈prefix_fraction · T⌉ on: "
        "model.prefix_fraction must be in (0, 1)");
  if (is_masked_lm(m.family()) && !(m.mask_fraction() > 0 && m.mask_fraction() < 1))
    bad.push_back("model.mask_fraction must be in (0, 1)");
}

// Data, optimizer, schedule and logging.
void check_training(Problems& bad, const pb::RunConfig& c, int world_size) {
  const auto& d = c.data();
  if (d.global_batch() < 1 || (world_size >= 1 && d.global_batch() % world_size != 0))
    bad.push_back("data.global_batch = " + std::to_string(d.global_batch()) +
                  " must be a positive multiple of the world size " + std::to_string(world_size) +
                  " (every rank reads the same number of sequences)");
  const auto& o = c.optimizer();
  if (!(o.lr() > 0 && std::isfinite(o.lr()))) bad.push_back("optimizer.lr must be finite and > 0");
  if (!std::isfinite(o.weight_decay() + o.grad_clip() + o.eps()))
    bad.push_back("optimizer.weight_decay, grad_clip and eps must be finite");
  if (!(o.beta1() >= 0 && o.beta1() < 1) || !(o.beta2() >= 0 && o.beta2() < 1))
    bad.push_back("optimizer.beta1 and beta2 must be in [0, 1)");
  if (o.weight_decay() < 0) bad.push_back("optimizer.weight_decay must be ≥ 0");
  if (o.grad_clip() < 0) bad.push_back("optimizer.grad_clip must be ≥ 0 (0 = off)");
  if (!(o.min_lr_ratio() >= 0 && o.min_lr_ratio() <= 1))
    bad.push_back("optimizer.min_lr_ratio must be in [0, 1]");
  const auto& s = c.schedule();
  if (s.steps() < 0) bad.push_back("schedule.steps must be ≥ 0");
  if (s.warmup_steps() < 0 || s.warmup_steps() > s.steps())
    bad.push_back("schedule.warmup_steps = " + std::to_string(s.warmup_steps()) +
                  " must be in [0, schedule.steps = " + std::to_string(s.steps()) + "]");
  if (s.eval_every() < 0 || s.ckpt_every() < 0)
    bad.push_back("schedule.eval_every and ckpt_every must be ≥ 0 (0 = off)");
  if (s.max_skipped_steps() < 0)
    bad.push_back("schedule.max_skipped_steps must be ≥ 0 (0: stop at the first non-finite step)");
  if (c.logging().log_every() < 1) bad.push_back("logging.log_every must be ≥ 1");
  if (c.logging().peak_tflops() < 0)
    bad.push_back("logging.peak_tflops must be ≥ 0 (0: unknown, no MFU printed)");
}

}  // namespace

void validate_config(const pb::RunConfig& c, int world_size) {
  Problems bad;
  const int ep = check_parallel(bad, c.parallel(), world_size);
  check_model_sizes(bad, c.model());
  check_model_options(bad, c.model());
  check_moe_layers(bad, c.model(), ep);
  check_family_rules(bad, c.model(), ep);
  check_training(bad, c, world_size);
  if (bad.empty()) return;
  std::ostringstream os;
  os << "invalid config '" << c.name() << "' (" << bad.size() << " problem"
     << (bad.size() > 1 ? "s" : "") << "):";
  for (const auto& b : bad) os << "\n  - " << b;
  SY_THROW_AS(ConfigError, os.str());
}

double comm_timeout_s(const pb::ParallelConfig& parallel) {
  return parallel.has_comm_timeout_s() ? parallel.comm_timeout_s() : default_comm_timeout_s();
}

std::string config_to_text(const pb::RunConfig& config) {
  std::string out;
  gp::TextFormat::Printer printer;
  printer.PrintToString(config, &out);
  return out;
}

}  // namespace sy
