#include "runtime/core/config_defaults.h"

#include "runtime/core/config.h"

namespace sy {

namespace {

namespace gp = google::protobuf;

// Sets every unset singular scalar of m to its default and recurses into the singular messages
// that are present (repeated fields are left as written).
void fill_defaults(gp::Message* m) {
  const gp::Reflection* r = m->GetReflection();
  const gp::Descriptor* d = m->GetDescriptor();
  for (int i = 0; i < d->field_count(); ++i) {
    const gp::FieldDescriptor* f = d->field(i);
    if (f->is_repeated()) continue;
    if (f->cpp_type() == gp::FieldDescriptor::CPPTYPE_MESSAGE) {
      if (r->HasField(*m, f)) fill_defaults(r->MutableMessage(m, f));
      continue;
    }
    if (r->HasField(*m, f)) continue;
    switch (f->cpp_type()) {
      case gp::FieldDescriptor::CPPTYPE_INT32: r->SetInt32(m, f, r->GetInt32(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_INT64: r->SetInt64(m, f, r->GetInt64(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_UINT32: r->SetUInt32(m, f, r->GetUInt32(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_UINT64: r->SetUInt64(m, f, r->GetUInt64(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_DOUBLE: r->SetDouble(m, f, r->GetDouble(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_FLOAT: r->SetFloat(m, f, r->GetFloat(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_BOOL: r->SetBool(m, f, r->GetBool(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_ENUM: r->SetEnum(m, f, r->GetEnum(*m, f)); break;
      case gp::FieldDescriptor::CPPTYPE_STRING:
        if (!f->default_value_string().empty()) r->SetString(m, f, r->GetString(*m, f));
        break;
      default: break;
    }
  }
}

}  // namespace

pb::RunConfig with_defaults(const pb::RunConfig& config) {
  pb::RunConfig c = config;
  c.mutable_model();
  c.mutable_parallel();
  c.mutable_data();
  c.mutable_optimizer();
  c.mutable_schedule();
  c.mutable_logging();
  if (has_moe_layers(c.model().family())) c.mutable_model()->mutable_moe();
  if (is_m2_family(c.model().family())) c.mutable_model()->mutable_m2();
  fill_defaults(&c);
  return c;
}

std::string enum_choices(const gp::FieldDescriptor* field) {
  std::string out;
  const gp::EnumDescriptor* e = field->enum_type();
  for (int i = 0; e && i < e->value_count(); ++i) {
    const std::string& name = e->value(i)->name();
    if (e->value(i)->number() == 0 && name.find("UNSPECIFIED") != std::string::npos) continue;
    out += (out.empty() ? "" : " | ") + name;
  }
  return out;
}

}  // namespace sy
