#include "runtime/core/config_diff.h"

#include <google/protobuf/text_format.h>

namespace sy {

namespace {

namespace gp = google::protobuf;

// One value of a field as text (index −1: a singular field, its default when unset).
std::string value_text(const gp::Message& m, const gp::FieldDescriptor* f, int index) {
  std::string out;
  gp::TextFormat::PrintFieldValueToString(m, f, index, &out);
  return out;
}

void diff_field(const gp::Message& a, const gp::Message& b, const gp::FieldDescriptor* f,
                const std::string& path, const std::set<std::string>& ignored,
                std::vector<std::string>& out);

void diff_message(const gp::Message& a, const gp::Message& b, const std::string& prefix,
                  const std::set<std::string>& ignored, std::vector<std::string>& out) {
  const gp::Descriptor* d = a.GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const gp::FieldDescriptor* f = d->field(i);
    if (!ignored.count(f->name())) diff_field(a, b, f, prefix + "." + f->name(), ignored, out);
  }
}

void diff_field(const gp::Message& a, const gp::Message& b, const gp::FieldDescriptor* f,
                const std::string& path, const std::set<std::string>& ignored,
                std::vector<std::string>& out) {
  const gp::Reflection* ra = a.GetReflection();
  const gp::Reflection* rb = b.GetReflection();
  const bool message = f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE;
  if (!f->is_repeated()) {
    if (message)
      return diff_message(ra->GetMessage(a, f), rb->GetMessage(b, f), path, ignored, out);
    const std::string x = value_text(a, f, -1), y = value_text(b, f, -1);
    if (x != y) out.push_back(path + ": " + x + " in the checkpoint, " + y + " now");
    return;
  }
  const int na = ra->FieldSize(a, f), nb = rb->FieldSize(b, f);
  if (na != nb) {
    out.push_back(path + ": " + std::to_string(na) + " entries in the checkpoint, " +
                  std::to_string(nb) + " now");
    return;
  }
  for (int i = 0; i < na; ++i) {
    const std::string at = path + "[" + std::to_string(i) + "]";
    if (message) {
      diff_message(ra->GetRepeatedMessage(a, f, i), rb->GetRepeatedMessage(b, f, i), at, ignored,
                   out);
    } else if (value_text(a, f, i) != value_text(b, f, i)) {
      out.push_back(at + ": " + value_text(a, f, i) + " in the checkpoint, " + value_text(b, f, i) +
                    " now");
    }
  }
}

}  // namespace

std::vector<std::string> config_differences(const gp::Message& saved, const gp::Message& now,
                                            const std::string& prefix,
                                            const std::set<std::string>& ignored) {
  std::vector<std::string> out;
  diff_message(saved, now, prefix, ignored, out);
  return out;
}

std::vector<std::string> model_mismatches(const pb::ModelConfig& saved,
                                          const pb::ModelConfig& now) {
  static const std::set<std::string> kMayChange = {
      "seq_len",  "mask_fraction",     "score_suffix_only", "capacity_factor",
      "dropless", "balance_loss_coef", "z_loss_coef"};
  return config_differences(saved, now, "model", kMayChange);
}

}  // namespace sy
