#include "referkit/core/header_id.hpp"

#include "header_table.hpp"

#include <array>
#include <cstring>

namespace referkit {

using header_table::entries;

HeaderId lookup_header(std::string_view name) noexcept { return header_table::lookup(name); }

std::string_view canonical_name(HeaderId id) noexcept { return entries[static_cast<std::size_t>(id)].name; }
char compact_form(HeaderId id) noexcept { return entries[static_cast<std::size_t>(id)].compact; }
bool is_list_header(HeaderId id) noexcept { return entries[static_cast<std::size_t>(id)].list; }
bool is_single_header(HeaderId id) noexcept { return entries[static_cast<std::size_t>(id)].single; }


}  // namespace referkit
