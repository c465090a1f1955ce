// The shared, immutable byte buffer a parsed message views into.
#pragma once
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

namespace referkit {

// One allocation holding the bytes; copies share it. Views taken from a Message stay valid as long
// as any copy of its buffer (or the Message) lives.
class SharedBuffer {
public:
    SharedBuffer() = default;
    // Copies the bytes into a new buffer (one allocation).
    [[nodiscard]] static SharedBuffer copy_of(std::string_view bytes);
    // Takes the string's storage without copying the bytes (one small allocation for the owner;
    // the string's terminating NUL is the guard byte).
    [[nodiscard]] static SharedBuffer adopt(std::string&& bytes);
    // Takes a buffer the caller filled: data must point into owner's storage.
    SharedBuffer(std::shared_ptr<const char[]> owner, std::size_t size) noexcept
        : data_(std::move(owner)), size_(size) {}

    [[nodiscard]] std::string_view view() const noexcept { return {data_.get(), size_}; }
    [[nodiscard]] const char* data() const noexcept { return data_.get(); }
    [[nodiscard]] std::size_t size() const noexcept { return size_; }
    [[nodiscard]] bool empty() const noexcept { return size_ == 0; }

private:
    std::shared_ptr<const char[]> data_;
    std::size_t size_ = 0;
};

}  // namespace referkit
