// Records as JSON: one line of protobuf's JSON printer, field names as in the .proto (snake_case),
// non-finite numbers as the strings JSON allows ("NaN", "Infinity"). The training log and every
// benchmark's --json use it, so scripts read one format.
#pragma once

#include <string>

#include <google/protobuf/message.h>

namespace sy {

std::string json_line(const google::protobuf::Message& record);
// Parses one such line into `record` (unknown fields ignored: a newer writer's log still reads);
// false when it is not one.
bool parse_json_line(const std::string& line, google::protobuf::Message* record);

}  // namespace sy
