#include "runtime/core/proto_json.h"

#include <google/protobuf/util/json_util.h>

#include "runtime/core/error.h"

namespace sy {

std::string json_line(const google::protobuf::Message& record) {
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.add_whitespace = false;
  std::string s;
  const auto status = google::protobuf::util::MessageToJsonString(record, &s, o);
  SY_CHECK(status.ok(),
           "cannot print a " << record.GetTypeName() << " as JSON: " << status.ToString());
  return s;
}

bool parse_json_line(const std::string& line, google::protobuf::Message* record) {
  google::protobuf::util::JsonParseOptions o;
  o.ignore_unknown_fields = true;
  return google::protobuf::util::JsonStringToMessage(line, record, o).ok();
}

}  // namespace sy
