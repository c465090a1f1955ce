#include "referkit/core/buffer.hpp"

#include <cstring>

namespace referkit {

SharedBuffer SharedBuffer::copy_of(std::string_view bytes) {
    std::shared_ptr<char[]> p = std::make_shared_for_overwrite<char[]>(bytes.size() + 1);
    if (!bytes.empty()) std::memcpy(p.get(), bytes.data(), bytes.size());
    p[bytes.size()] = '\0';  // a guard byte: never part of the view
    return SharedBuffer(std::move(p), bytes.size());
}

}  // namespace referkit
