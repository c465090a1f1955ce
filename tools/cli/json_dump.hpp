// JSON views of parsed messages for `referkit parse`.
#pragma once
#include <nlohmann/json.hpp>

#include "referkit/core/error.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/sipfrag.hpp"

namespace referkit::cli {

nlohmann::ordered_json to_json(const Message& m);
nlohmann::ordered_json to_json(const Sipfrag& f);
nlohmann::ordered_json to_json(const ParseError& e);

}  // namespace referkit::cli
