#include "referkit/core/message.hpp"

#include "lex.hpp"

namespace referkit {

const HeaderField* Message::find(HeaderId id) const noexcept {
    if (id != HeaderId::other) {
        const auto i = static_cast<std::size_t>(id);
        return count_[i] ? &headers_[first_[i]] : nullptr;
    }
    for (const HeaderField& h : headers_)
        if (h.id == id) return &h;
    return nullptr;
}

const HeaderField* Message::find(std::string_view name) const noexcept {
    if (!is_token(name)) return nullptr;  // no header field has such a name
    HeaderId id = lookup_header(name);
    if (id != HeaderId::other) return find(id);
    for (const HeaderField& h : headers_)
        if (h.id == HeaderId::other && iequals(h.name, name)) return &h;
    return nullptr;
}

std::size_t Message::count_other() const noexcept {
    std::size_t n = 0;
    for (const HeaderField& h : headers_) n += h.id == HeaderId::other;
    return n;
}

ParseError Message::relocate(ParseError e, std::string_view within) const noexcept {
    e.offset += offset_of(within);
    return e;
}

std::expected<const HeaderField*, ParseError> Message::single(HeaderId id) const {
    const auto i = static_cast<std::size_t>(id);
    if (count_[i] == 0) return std::unexpected(ParseError{ErrorCode::header_absent, offset_of(bytes_) + static_cast<std::uint32_t>(bytes_.size()), 400, "header absent"});
    if (count_[i] > 1) {
        for (std::size_t k = first_[i] + 1u; k < headers_.size(); ++k)
            if (headers_[k].id == id)
                return std::unexpected(ParseError{ErrorCode::duplicate_header, offset_of(headers_[k].name), 400, "header may appear only once"});
    }
    return &headers_[first_[i]];
}

namespace {
// Parses one header value with f and moves error offsets into buffer coordinates.
template <class F>
auto typed(const Message& m, const HeaderField& h, F&& f) -> decltype(f(h.value)) {
    auto r = f(h.value);
    if (!r) r.error().offset += m.offset_of(h.value);
    return r;
}
}  // namespace

std::expected<std::vector<Via>, ParseError> Message::vias() const {
    std::vector<Via> out;
    for (const HeaderField& h : headers_) {
        if (h.id != HeaderId::via) continue;
        auto r = for_each_element(h.value, [&](std::string_view e, std::uint32_t) -> std::expected<void, ParseError> {
            auto v = parse_via(e, limits_);
            if (!v) return std::unexpected(v.error());
            out.push_back(*v);
            return {};
        });
        if (!r) return std::unexpected(relocate(r.error(), h.value));
    }
    return out;
}

std::expected<std::vector<NameAddr>, ParseError> Message::name_addrs(HeaderId id) const {
    std::vector<NameAddr> out;
    for (const HeaderField& h : headers_) {
        if (h.id != id) continue;
        auto each = [&](std::string_view e, std::uint32_t) -> std::expected<void, ParseError> {
            auto na = parse_name_addr(e, limits_);
            if (!na) return std::unexpected(na.error());
            out.push_back(*na);
            return {};
        };
        std::expected<void, ParseError> r;
        if (is_list_header(id)) {
            r = for_each_element(h.value, each);
        } else {
            r = each(h.value, 0);
        }
        if (!r) return std::unexpected(relocate(r.error(), h.value));
    }
    return out;
}

std::expected<NameAddr, ParseError> Message::single_name_addr(HeaderId id) const {
    auto h = single(id);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_name_addr(v, limits_); });
}

std::expected<Message::ContactList, ParseError> Message::contacts() const {
    ContactList list;
    for (const HeaderField& h : headers_) {
        if (h.id != HeaderId::contact) continue;
        if (lex::trim(h.value) == "*") {
            // RFC 3261 §10.2.2: "*" stands alone.
            if (count(HeaderId::contact) != 1)
                return std::unexpected(ParseError{ErrorCode::bad_name_addr, offset_of(h.value), 400, "Contact '*' must be the only Contact"});
            list.is_star = true;
            return list;
        }
    }
    auto all = name_addrs(HeaderId::contact);
    if (!all) return std::unexpected(all.error());
    list.entries = std::move(*all);
    return list;
}

std::expected<ContentType, ParseError> Message::content_type() const {
    auto h = single(HeaderId::content_type);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_content_type(v, limits_); });
}

std::expected<Event, ParseError> Message::event() const {
    auto h = single(HeaderId::event);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_event(v, limits_); });
}

std::expected<SubscriptionState, ParseError> Message::subscription_state() const {
    auto h = single(HeaderId::subscription_state);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_subscription_state(v, limits_); });
}

namespace {
template <class T>
std::expected<Tolerated<T>, ParseError> in_message(const Message& m, std::expected<Tolerated<T>, ParseError> r,
                                                   std::string_view value) {
    if (r && r->ignored) r->ignored->offset += m.offset_of(value);
    return r;
}
}  // namespace

std::expected<Tolerated<Event>, ParseError> Message::event_tolerant() const {
    auto h = single(HeaderId::event);
    if (!h) return std::unexpected(h.error());
    return in_message(*this, typed(*this, **h, [this](std::string_view v) { return parse_event_tolerant(v, limits_); }),
                      (*h)->value);
}

std::expected<Tolerated<SubscriptionState>, ParseError> Message::subscription_state_tolerant() const {
    auto h = single(HeaderId::subscription_state);
    if (!h) return std::unexpected(h.error());
    return in_message(*this,
                      typed(*this, **h, [this](std::string_view v) { return parse_subscription_state_tolerant(v, limits_); }),
                      (*h)->value);
}

std::expected<ReferSub, ParseError> Message::refer_sub() const {
    auto h = single(HeaderId::refer_sub);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_refer_sub(v, limits_); });
}

std::expected<DialogRef, ParseError> Message::replaces() const {
    auto h = single(HeaderId::replaces);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_replaces(v, limits_); });
}

std::expected<DialogRef, ParseError> Message::target_dialog() const {
    auto h = single(HeaderId::target_dialog);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [this](std::string_view v) { return parse_target_dialog(v, limits_); });
}

std::expected<std::uint32_t, ParseError> Message::expires() const {
    auto h = single(HeaderId::expires);
    if (!h) return std::unexpected(h.error());
    return typed(*this, **h, [](std::string_view v) { return parse_uint(v, 0xffffffffu); });
}

std::expected<std::vector<std::string_view>, ParseError> Message::tokens(HeaderId id) const {
    std::vector<std::string_view> out;
    for (const HeaderField& h : headers_) {
        if (h.id != id) continue;
        if (lex::trim(h.value).empty()) continue;  // "Supported:" with no value is allowed
        auto r = for_each_element(h.value, [&](std::string_view e, std::uint32_t) -> std::expected<void, ParseError> {
            if (!is_token(e)) return std::unexpected(ParseError{ErrorCode::bad_token, 0, 400, "token expected"});
            out.push_back(e);
            return {};
        });
        if (!r) return std::unexpected(relocate(r.error(), h.value));
    }
    return out;
}

std::expected<std::vector<AuthParams>, ParseError> Message::auth(HeaderId id) const {
    std::vector<AuthParams> out;
    for (const HeaderField& h : headers_) {
        if (h.id != id) continue;
        auto a = typed(*this, h, [this](std::string_view v) { return parse_auth(v, limits_); });
        if (!a) return std::unexpected(a.error());
        out.push_back(std::move(*a));
    }
    return out;
}

}  // namespace referkit
