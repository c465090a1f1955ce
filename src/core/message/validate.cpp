#include "referkit/core/validate.hpp"

#include <algorithm>

#include "lex.hpp"

namespace referkit {

std::optional<ParseError> check_header_value(HeaderId id, std::string_view value, const Limits& limits,
                                             HeaderSyntax syntax) {
    const bool tolerant = syntax == HeaderSyntax::tolerant;
    auto each = [&](auto&& parse) -> std::optional<ParseError> {
        auto r = for_each_element(value, [&](std::string_view e, std::uint32_t) -> std::expected<void, ParseError> {
            auto v = parse(e);
            if (!v) return std::unexpected(v.error());
            return {};
        });
        if (!r) return r.error();
        return std::nullopt;
    };
    auto one = [&](auto&& parse) -> std::optional<ParseError> {
        auto v = parse(value);
        if (!v) return v.error();
        return std::nullopt;
    };
    // A lookup over some of the ~70 header ids, not a state machine: the rest fall to default.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wswitch-enum"
    switch (id) {
        case HeaderId::via: return each([&](std::string_view e) { return parse_via(e, limits); });
        case HeaderId::contact:
            if (lex::trim(value) == "*") return std::nullopt;
            return each([&](std::string_view e) { return parse_name_addr(e, limits); });
        case HeaderId::route:
        case HeaderId::record_route:
        case HeaderId::path:
        case HeaderId::service_route:
        case HeaderId::p_asserted_identity:
            return each([&](std::string_view e) { return parse_name_addr(e, limits); });
        case HeaderId::from:
        case HeaderId::to:
        case HeaderId::refer_to:
        case HeaderId::referred_by:
        case HeaderId::reply_to:
            return one([&](std::string_view e) { return parse_name_addr(e, limits); });
        case HeaderId::call_id: return one([&](std::string_view e) { return parse_call_id(e); });
        case HeaderId::cseq: return one([&](std::string_view e) { return parse_cseq(e); });
        case HeaderId::max_forwards: return one([](std::string_view e) { return parse_uint(e, 255); });
        case HeaderId::content_length:
        case HeaderId::expires:
        case HeaderId::min_expires:
            return one([](std::string_view e) { return parse_uint(e, 0xffffffffu); });
        case HeaderId::content_type: return one([&](std::string_view e) { return parse_content_type(e, limits); });
        // Tolerant (docs/transfer-rules.md R35): a malformed parameter is the NOTIFY rules' to skip
        // and note, not a reason to refuse the request; a malformed value still is.
        case HeaderId::event:
            if (tolerant) return one([&](std::string_view e) { return parse_event_tolerant(e, limits); });
            return one([&](std::string_view e) { return parse_event(e, limits); });
        case HeaderId::subscription_state:
            if (tolerant) return one([&](std::string_view e) { return parse_subscription_state_tolerant(e, limits); });
            return one([&](std::string_view e) { return parse_subscription_state(e, limits); });
        case HeaderId::refer_sub: return one([&](std::string_view e) { return parse_refer_sub(e, limits); });
        case HeaderId::replaces: return one([&](std::string_view e) { return parse_replaces(e, limits); });
        case HeaderId::target_dialog: return one([&](std::string_view e) { return parse_target_dialog(e, limits); });
        case HeaderId::allow:
        case HeaderId::allow_events:
        case HeaderId::supported:
        case HeaderId::require:
        case HeaderId::proxy_require:
        case HeaderId::unsupported:
            if (lex::trim(value).empty()) return std::nullopt;
            return each([](std::string_view e) -> std::expected<std::string_view, ParseError> {
                if (!is_token(e)) return std::unexpected(ParseError{ErrorCode::bad_token, 0, 400, "token expected"});
                return e;
            });
        case HeaderId::www_authenticate:
        case HeaderId::proxy_authenticate:
        case HeaderId::authorization:
        case HeaderId::proxy_authorization:
            return one([&](std::string_view e) { return parse_auth(e, limits); });
        default: return std::nullopt;
    }
#pragma GCC diagnostic pop
}

namespace {

std::optional<ParseError> check_field(const Message& m, const HeaderField& h, HeaderSyntax syntax) {
    auto e = check_header_value(h.id, h.value, m.limits(), syntax);
    if (e) e->offset += m.offset_of(h.value);
    return e;
}

bool media_matches(std::string_view range, std::string_view type) {
    // range: "type/subtype" or "type/*" or "*/*"; parameters ignored.
    auto ct = parse_content_type(range);
    auto t = parse_content_type(type);
    if (!ct || !t) return false;
    if (ct->type == "*" && ct->subtype == "*") return true;
    if (!iequals(ct->type, t->type)) return false;
    return ct->subtype == "*" || iequals(ct->subtype, t->subtype);
}

std::string join(std::span<const std::string_view> items) {
    std::string s;
    for (std::string_view i : items) {
        if (!s.empty()) s += ", ";
        s += i;
    }
    return s;
}

}  // namespace

std::optional<ParseError> validate_headers(const Message& m, HeaderSyntax syntax) {
    std::array<std::uint8_t, header_id_count> seen{};
    for (const HeaderField& h : m.headers()) {
        auto i = static_cast<std::size_t>(h.id);
        if (h.id != HeaderId::other && is_single_header(h.id) && seen[i]++)
            return ParseError{ErrorCode::duplicate_header, m.offset_of(h.name), 400, "header may appear only once"};
        if (auto e = check_field(m, h, syntax)) return e;
    }
    return std::nullopt;
}

std::optional<ParseError> validate_response(const Message& m) {
    if (auto e = validate_headers(m)) return e;
    auto vias = m.vias();
    if (!vias) return vias.error();
    if (vias->size() != 1) {
        const Via& second = (*vias)[1];
        return ParseError{ErrorCode::bad_via, m.offset_of(second.protocol), 400, "a UAC discards a response with more than one Via"};
    }
    return std::nullopt;
}

std::optional<Rejection> validate_request(const Message& req, const UasCapabilities& caps) {
    if (auto e = validate_headers(req, HeaderSyntax::tolerant)) return Rejection{*e, {}, {}, {}};
    const std::uint32_t line = req.offset_of(req.start_line());
    // RFC 3261 §8.2.1: an unknown method is 501, a known one we do not implement 405 with Allow.
    if (req.method() == Method::other)
        return Rejection{ParseError{ErrorCode::bad_method, line, 501, "method not implemented"}, {}, {}, {}};
    if (std::find(caps.methods.begin(), caps.methods.end(), req.method()) == caps.methods.end()) {
        std::string allow;
        for (Method mm : caps.methods) {
            if (!allow.empty()) allow += ", ";
            allow += method_name(mm);
        }
        return Rejection{ParseError{ErrorCode::bad_method, line, 405, "method not allowed here"}, {}, {}, std::move(allow)};
    }
    // §8.2.2.1: 416 for a scheme we do not understand.
    if (req.request_uri().scheme == Scheme::other)
        return Rejection{ParseError{ErrorCode::bad_scheme, req.offset_of(req.request_uri().text), 416, "Request-URI scheme not supported"}, {}, {}, {}};
    // §8.2.2.3: 420 listing the option tags we do not support.
    if (req.method() != Method::cancel && req.method() != Method::ack) {
        auto required = req.tokens(HeaderId::require);
        if (!required) return Rejection{required.error(), {}, {}, {}};
        std::string unsupported;
        for (std::string_view tag : *required) {
            bool known = std::any_of(caps.extensions.begin(), caps.extensions.end(), [&](std::string_view e) { return iequals(e, tag); });
            if (!known) {
                if (!unsupported.empty()) unsupported += ", ";
                unsupported += tag;
            }
        }
        if (!unsupported.empty()) {
            const HeaderField* h = req.find(HeaderId::require);
            return Rejection{ParseError{ErrorCode::bad_token, req.offset_of(h->value), 420, "required extension not supported"}, std::move(unsupported), {}, {}};
        }
    }
    // §8.2.3: 415 for a body we cannot process.
    if (!req.body().empty()) {
        std::string_view type = "application/sdp";  // §7.4.1 default when Content-Type is absent
        if (const HeaderField* h = req.find(HeaderId::content_type)) type = h->value;
        bool ok = std::any_of(caps.content_types.begin(), caps.content_types.end(), [&](std::string_view t) { return media_matches(t, type); });
        if (!ok) {
            std::uint32_t at = req.find(HeaderId::content_type) ? req.offset_of(req.find(HeaderId::content_type)->value) : line;
            return Rejection{ParseError{ErrorCode::bad_token, at, 415, "Content-Type not supported"}, {}, join(caps.content_types), {}};
        }
    }
    // §21.4.7: 406 when the INVITE's answer could not be in any type the request accepts.
    if (req.method() == Method::invite && req.find(HeaderId::accept)) {
        bool any = false;
        for (const HeaderField& h : req.headers()) {
            if (h.id != HeaderId::accept) continue;
            auto ranges = split_list(h.value, ListOptions{.allow_empty = true});
            if (!ranges) return Rejection{ParseError{ranges.error().code, req.offset_of(h.value) + ranges.error().offset, 400, ranges.error().what}, {}, {}, {}};
            for (std::string_view r : *ranges)
                for (std::string_view t : caps.answer_types) any = any || media_matches(r, t);
        }
        if (!any)
            return Rejection{ParseError{ErrorCode::bad_token, req.offset_of(req.find(HeaderId::accept)->value), 406, "no acceptable body type for the answer"}, {}, {}, {}};
    }
    return std::nullopt;
}

}  // namespace referkit
