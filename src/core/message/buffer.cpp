#include "referkit/core/buffer.hpp"

#include <cstring>
#include <utility>

namespace referkit {

SharedBuffer SharedBuffer::copy_of(std::string_view bytes) {
    std::shared_ptr<char[]> p = std::make_shared_for_overwrite<char[]>(bytes.size() + 1);
    if (!bytes.empty()) std::memcpy(p.get(), bytes.data(), bytes.size());
    p[bytes.size()] = '\0';  // a guard byte: never part of the view
    return SharedBuffer(std::move(p), bytes.size());
}

SharedBuffer SharedBuffer::adopt(std::string&& bytes) {
    auto owner = std::make_shared<std::string>(std::move(bytes));
    const std::size_t size = owner->size();
    const char* data = owner->data();
    return SharedBuffer(std::shared_ptr<const char[]>(std::move(owner), data), size);
}

}  // namespace referkit
