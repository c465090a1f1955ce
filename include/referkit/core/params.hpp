// Parameter lists (";name=value" on URIs and header values) kept as views and split on demand.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace referkit {

struct Param {
    std::string_view name;   // as written (compare with iequals)
    std::string_view value;  // as written: quotes kept for quoted-strings, escapes kept in URIs
    bool has_value = false;
};

// A validated run of parameters, without its first ';'. Iteration trims linear white space
// (including folded line breaks) around names, '=' and values; quoted strings may hold ';'.
class ParamList {
public:
    ParamList() = default;
    explicit ParamList(std::string_view text) noexcept : text_(text) {}

    class iterator {
    public:
        using value_type = Param;
        using difference_type = std::ptrdiff_t;
        iterator() = default;
        explicit iterator(std::string_view rest) noexcept : rest_(rest), more_(true) { advance(); }
        const Param& operator*() const noexcept { return cur_; }
        const Param* operator->() const noexcept { return &cur_; }
        iterator& operator++() noexcept { advance(); return *this; }
        iterator operator++(int) noexcept { auto t = *this; advance(); return t; }
        // Only comparison with end() is meaningful (input iterator).
        bool operator==(const iterator& o) const noexcept { return done_ == o.done_ && (done_ || (rest_.data() == o.rest_.data() && more_ == o.more_)); }
    private:
        void advance() noexcept;
        std::string_view rest_;
        Param cur_;
        bool more_ = false;
        bool done_ = true;
    };

    [[nodiscard]] iterator begin() const noexcept { return text_.empty() ? iterator{} : iterator{text_}; }
    [[nodiscard]] iterator end() const noexcept { return {}; }
    [[nodiscard]] bool empty() const noexcept { return text_.empty(); }
    [[nodiscard]] std::string_view text() const noexcept { return text_; }
    // First parameter of that name (case-insensitive), or nullopt.
    [[nodiscard]] std::optional<Param> find(std::string_view name) const noexcept;
    [[nodiscard]] bool contains(std::string_view name) const noexcept { return find(name).has_value(); }

private:
    std::string_view text_;
};

// Removes the quotes and quoted-pair escapes of a quoted-string ("\"a\\\"b\"" -> a"b); a value
// without quotes is returned as is.
[[nodiscard]] std::string unquote(std::string_view value);
// Decodes %HH escapes (RFC 3261 §19.1.2, RFC 3986 §2.1); a '%' not followed by two hex digits is
// kept literally (RFC 4475 §3.1.1.5).
[[nodiscard]] std::string percent_decode(std::string_view text);
// Escapes every byte outside unreserved (and the extra characters allowed by 'keep') as %HH.
[[nodiscard]] std::string percent_encode(std::string_view text, std::string_view keep = {});

}  // namespace referkit
