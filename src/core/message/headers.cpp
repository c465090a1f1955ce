#include "referkit/core/headers.hpp"

#include <cstring>

#include "lex.hpp"
#include "uri_internal.hpp"
#include "referkit/core/header_id.hpp"

namespace referkit {
namespace {

using lex::Cursor;
using lex::error;

template <class T>
using Result = std::expected<T, ParseError>;

ParseError at(const Cursor& c, ErrorCode code, std::string_view what) { return error(code, c.offset(), what); }

// gen-value = token / host / quoted-string (RFC 3261 §25.1), tolerant of IPv6 references.
// bare_ipv6: the value may be an IPv6address without brackets (Via received, RFC 3261 §20.42).
bool take_gen_value(Cursor& c, bool bare_ipv6) {
    if (c.peek() == '"') return !lex::take_quoted(c).empty();
    if (c.peek() == '[') {  // host = IPv6reference: only hex digits, ':' and '.' inside
        const char* s = c.p + 1;
        const char* q = s;
        while (q < c.end && (lex::is(*q, lex::k_hex) || *q == ':' || *q == '.')) ++q;
        if (q >= c.end || *q != ']' || !detail::valid_ipv6(std::string_view(s, static_cast<std::size_t>(q - s)))) return false;
        c.p = q + 1;
        return true;
    }
    const char* s = c.p;
    if (!bare_ipv6) return !c.take(lex::k_token).empty();
    while (!c.at_end() && (lex::is(*c.p, lex::k_token) || *c.p == ':')) ++c.p;
    return c.p != s;
}

// *( SEMI generic-param ) at c. Returns the raw text after the first ';' (for ParamList) and
// calls on_param(name, value) for each. Stops before anything that is not "SWS ;".
template <class F>
Result<ParamList> take_params(Cursor& c, const Limits& limits, F&& on_param, std::string_view bare_ipv6_param = {}) {
    const char* first = nullptr;
    std::size_t n = 0;
    while (c.separator(';')) {
        if (!first) first = c.p;
        std::string_view name = c.take(lex::k_token);
        if (name.empty()) return std::unexpected(at(c, ErrorCode::bad_param, "parameter name expected after ';'"));
        std::string_view value(c.p, 0);  // valueless: an empty view where the value would be
        if (c.separator('=')) {
            const char* vs = c.p;
            if (!take_gen_value(c, !bare_ipv6_param.empty() && iequals(name, bare_ipv6_param))) return std::unexpected(at(c, ErrorCode::bad_param, "parameter value expected after '='"));
            value = c.since(vs);
        }
        if (++n > limits.max_params) return std::unexpected(at(c, ErrorCode::too_many_params, "too many parameters"));
        if (auto r = on_param(name, value, c); !r) return std::unexpected(r.error());
    }
    if (!first) return ParamList{};
    return ParamList(std::string_view(first, static_cast<std::size_t>(c.p - first)));
}

Result<void> ok() { return {}; }

Result<void> expect_end(Cursor& c, ErrorCode code, std::string_view what) {
    c.skip_lws();
    if (!c.at_end()) return std::unexpected(at(c, code, what));
    return {};
}

Result<std::uint32_t> number_value(std::string_view v, std::size_t offset, std::uint32_t max) {
    if (!v.empty() && v.size() <= 9) {  // fast path: plain digits that cannot overflow
        std::uint32_t n = 0;
        bool digits = true;
        for (char ch : v) {
            digits = digits && lex::is_digit(ch);
            n = n * 10 + static_cast<std::uint32_t>(ch - '0');
        }
        if (digits && n <= max) return n;
    }
    auto r = parse_uint(v, max);
    if (!r) {
        ParseError e = r.error();
        e.offset += static_cast<std::uint32_t>(offset);
        return std::unexpected(e);
    }
    return r;
}

std::size_t off(const Cursor& c, std::string_view v) { return static_cast<std::size_t>(v.data() - c.begin); }

}  // namespace

bool is_token_char(char c) noexcept { return lex::is(c, lex::k_token); }
bool is_token(std::string_view s) noexcept {
    if (s.empty()) return false;
    for (char c : s)
        if (!lex::is(c, lex::k_token)) return false;
    return true;
}

Method lookup_method(std::string_view t) noexcept {
    switch (t.size()) {
        case 3:
            if (t == "BYE") return Method::bye;
            if (t == "ACK") return Method::ack;
            break;
        case 4:
            if (t == "INFO") return Method::info;
            break;
        case 5:
            if (t == "REFER") return Method::refer;
            if (t == "PRACK") return Method::prack;
            break;
        case 6:
            if (t == "INVITE") return Method::invite;
            if (t == "CANCEL") return Method::cancel;
            if (t == "NOTIFY") return Method::notify;
            if (t == "UPDATE") return Method::update;
            break;
        case 7:
            if (t == "OPTIONS") return Method::options;
            if (t == "MESSAGE") return Method::message;
            if (t == "PUBLISH") return Method::publish;
            break;
        case 8:
            if (t == "REGISTER") return Method::register_;
            break;
        case 9:
            if (t == "SUBSCRIBE") return Method::subscribe;
            break;
        default: break;
    }
    return Method::other;
}

std::string_view method_name(Method m) noexcept {
    switch (m) {
        case Method::other: return "";
        case Method::invite: return "INVITE";
        case Method::ack: return "ACK";
        case Method::bye: return "BYE";
        case Method::cancel: return "CANCEL";
        case Method::options: return "OPTIONS";
        case Method::register_: return "REGISTER";
        case Method::refer: return "REFER";
        case Method::notify: return "NOTIFY";
        case Method::subscribe: return "SUBSCRIBE";
        case Method::info: return "INFO";
        case Method::message: return "MESSAGE";
        case Method::prack: return "PRACK";
        case Method::update: return "UPDATE";
        case Method::publish: return "PUBLISH";
    }
    return "";
}

std::expected<std::uint32_t, ParseError> parse_uint(std::string_view text, std::uint32_t max) {
    std::string_view v = lex::trim(text);
    std::size_t lead = static_cast<std::size_t>(v.data() - text.data());
    if (v.empty()) return std::unexpected(error(ErrorCode::bad_number, lead, "number expected"));
    std::uint64_t n = 0;
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (!lex::is_digit(v[i])) return std::unexpected(error(ErrorCode::bad_number, lead + i, "decimal digits expected"));
        n = n * 10 + static_cast<std::uint64_t>(v[i] - '0');
        if (n > max) return std::unexpected(error(ErrorCode::bad_number, lead, "number out of range"));
    }
    return static_cast<std::uint32_t>(n);
}

std::string NameAddr::display() const {
    if (!display_name.empty() && display_name.front() == '"') return unquote(display_name);
    return std::string(display_name);
}

namespace detail {

std::optional<ParseError> parse_name_addr_into(std::string_view text, const Limits& limits, NameAddr& na) {
    Cursor c(text);
    c.skip_lws();
    if (c.peek() == '"') {
        na.display_name = lex::take_quoted(c);
        if (na.display_name.empty()) return at(c, ErrorCode::bad_quoted_string, "unterminated quoted display name");
        c.skip_lws();
        if (c.peek() != '<') return at(c, ErrorCode::bad_name_addr, "'<' expected after the display name");
    } else if (c.peek() != '<') {
        // *(token LWS) before '<' is a display name; anything else is an addr-spec.
        const char* s = c.p;
        const char* last = c.p;
        while (true) {
            std::string_view t = c.take(lex::k_token);
            if (t.empty()) break;
            last = c.p;
            c.skip_lws();
        }
        if (c.peek() == '<' && last != s) na.display_name = std::string_view(s, static_cast<std::size_t>(last - s));
        else c.p = s;
    }
    if (c.consume('<')) {
        const void* gt = std::memchr(c.p, '>', static_cast<std::size_t>(c.end - c.p));
        if (!gt) {
            c.p = c.end;
            return at(c, ErrorCode::bad_name_addr, "'>' expected after the URI");
        }
        Cursor uc(std::string_view(c.p, static_cast<std::size_t>(static_cast<const char*>(gt) - c.p)));
        if (uc.end - uc.p > static_cast<std::ptrdiff_t>(limits.max_uri_length))
            return error(ErrorCode::uri_too_long, c.offset(), "URI longer than Limits::max_uri_length");  // 414 is for the Request-URI
        if (auto e = parse_uri_into(uc, UriContext::name_addr, limits, na.uri)) {
            e->offset += static_cast<std::uint32_t>(c.offset());
            return e;
        }
        if (!uc.at_end()) return error(ErrorCode::bad_uri, c.offset() + uc.offset(), "unexpected character in URI");
        na.angle_brackets = true;
        c.p = static_cast<const char*>(gt) + 1;
    } else {
        if (auto e = parse_uri_into(c, UriContext::addr_spec, limits, na.uri)) return e;
    }
    bool tagged = false;
    auto params = take_params(c, limits, [&](std::string_view name, std::string_view value, Cursor& cc) -> Result<void> {
        if (name.size() == 3 && iequals(name, "tag")) {
            // RFC 3420 §3.2 shows two tags as invalid: a dialog has one identity.
            if (tagged) return std::unexpected(at(cc, ErrorCode::bad_param, "tag parameter appears twice"));
            // tag-param = "tag" EQUAL token (§25.1): never empty, never quoted.
            if (!is_token(value)) return std::unexpected(at(cc, ErrorCode::bad_param, "tag needs a token value"));
            na.tag = value;
            tagged = true;
        }
        return {};
    });
    if (!params) return params.error();
    na.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_name_addr, "unexpected character after name-addr"); !r) return r.error();
    return std::nullopt;
}

std::optional<ParseError> parse_via_into(std::string_view text, const Limits& limits, Via& v) {
    Cursor c(text);
    c.skip_lws();
    std::uint64_t head = 0;
    if (c.end - c.p > 8) std::memcpy(&head, c.p, 8);
    // Fast path for the usual "SIP/2.0/" (any case); the general grammar allows LWS around '/'.
    constexpr std::uint64_t sip20 = 0x2f302e322f504953ULL;  // "SIP/2.0/" little-endian
    constexpr std::uint64_t fold = 0x0000000000202020ULL;   // case-fold the three letters
    if ((head | fold) == (sip20 | fold)) {
        v.protocol = std::string_view(c.p, 3);
        v.version = std::string_view(c.p + 4, 3);
        c.p += 8;
        c.skip_lws();  // SLASH = SWS "/" SWS
    } else {
        v.protocol = c.take(lex::k_token);
        if (v.protocol.empty() || !c.separator('/')) return at(c, ErrorCode::bad_via, "Via must start with protocol-name '/' version '/' transport");
        v.version = c.take(lex::k_token);
        if (v.version.empty() || !c.separator('/')) return at(c, ErrorCode::bad_via, "Via protocol version expected");
    }
    v.transport = c.take(lex::k_token);
    if (v.transport.empty()) return at(c, ErrorCode::bad_via, "Via transport expected");
    if (!c.skip_lws()) return at(c, ErrorCode::bad_via, "white space expected before the Via sent-by");
    auto hp = parse_hostport(c, false);
    if (!hp) return hp.error();
    v.host = hp->host;
    v.host_kind = hp->kind;
    if (c.separator(':')) {
        std::string_view digits = c.take(lex::k_digit);
        auto port = number_value(digits, off(c, digits), 65535);
        if (!port || *port == 0) return at(c, ErrorCode::bad_port, "Via port must be 1..65535");
        v.port = static_cast<std::uint16_t>(*port);
    }
    auto params = take_params(c, limits, [&](std::string_view name, std::string_view value, Cursor& cc) -> Result<void> {
        // Dispatch on the length first: most parameters are compared against one name at most.
        switch (name.size()) {
            case 6:
                if (iequals(name, "branch")) {
                    if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "branch needs a value"));
                    if (v.branch.empty()) v.branch = value;
                }
                break;
            case 8:
                if (iequals(name, "received")) {
                    if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "received needs a value"));
                    v.received = value;
                }
                break;
            case 5:
                if (iequals(name, "maddr")) {
                    if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "maddr needs a value"));
                    v.maddr = value;
                } else if (iequals(name, "rport")) {
                    v.has_rport = true;
                    if (!value.empty()) {
                        auto p = number_value(value, off(cc, value), 65535);
                        if (!p) return std::unexpected(p.error());
                        v.rport = static_cast<std::uint16_t>(*p);
                    }
                }
                break;
            case 3:
                if (iequals(name, "ttl")) {
                    if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "ttl needs a value"));
                    auto t = number_value(value, off(cc, value), 255);
                    if (!t) return std::unexpected(t.error());
                    v.ttl = static_cast<std::uint8_t>(*t);
                }
                break;
            default: break;
        }
        return {};
    }, "received");
    if (!params) return params.error();
    v.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_via, "unexpected character in Via"); !r) return r.error();
    return std::nullopt;
}

}  // namespace detail

std::expected<NameAddr, ParseError> parse_name_addr(std::string_view text, const Limits& limits) {
    std::expected<NameAddr, ParseError> out;
    if (auto e = detail::parse_name_addr_into(text, limits, *out)) out = std::unexpected(*e);
    return out;
}

std::expected<Via, ParseError> parse_via(std::string_view text, const Limits& limits) {
    std::expected<Via, ParseError> out;
    if (auto e = detail::parse_via_into(text, limits, *out)) out = std::unexpected(*e);
    return out;
}

std::expected<CSeq, ParseError> parse_cseq(std::string_view text) {
    Cursor c(text);
    c.skip_lws();
    std::string_view digits = c.take(lex::k_digit);
    if (digits.empty()) return std::unexpected(at(c, ErrorCode::bad_cseq, "CSeq number expected"));
    CSeq cs;
    // RFC 3261 §8.1.1.5: the sequence number MUST be less than 2**31.
    auto n = parse_uint(digits, 0x7fffffffu);
    if (!n) return std::unexpected(error(ErrorCode::bad_cseq, off(c, digits), "CSeq number must be below 2^31"));
    cs.number = *n;
    if (!c.skip_lws()) return std::unexpected(at(c, ErrorCode::bad_cseq, "white space expected between CSeq number and method"));
    cs.method_text = c.take(lex::k_token);
    if (cs.method_text.empty()) return std::unexpected(at(c, ErrorCode::bad_cseq, "CSeq method expected"));
    cs.method = lookup_method(cs.method_text);
    if (auto r = expect_end(c, ErrorCode::bad_cseq, "unexpected character after CSeq method"); !r) return std::unexpected(r.error());
    return cs;
}

std::expected<std::string_view, ParseError> parse_call_id(std::string_view text) {
    Cursor c(text);
    c.skip_lws();
    const char* s = c.p;
    if (c.take(lex::k_word).empty()) return std::unexpected(at(c, ErrorCode::bad_call_id, "Call-ID expected"));
    if (c.consume('@') && c.take(lex::k_word).empty())
        return std::unexpected(at(c, ErrorCode::bad_call_id, "Call-ID: word expected after '@'"));
    std::string_view id = c.since(s);
    if (auto r = expect_end(c, ErrorCode::bad_call_id, "unexpected character in Call-ID"); !r) return std::unexpected(r.error());
    return id;
}

bool ContentType::is(std::string_view t, std::string_view s) const noexcept { return iequals(type, t) && iequals(subtype, s); }

std::expected<ContentType, ParseError> parse_content_type(std::string_view text, const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    ContentType ct;
    ct.type = c.take(lex::k_token);
    if (ct.type.empty() || !c.separator('/')) return std::unexpected(at(c, ErrorCode::bad_token, "media type must be type '/' subtype"));
    ct.subtype = c.take(lex::k_token);
    if (ct.subtype.empty()) return std::unexpected(at(c, ErrorCode::bad_token, "media subtype expected"));
    auto params = take_params(c, limits, [](std::string_view, std::string_view, Cursor&) { return ok(); });
    if (!params) return std::unexpected(params.error());
    ct.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_token, "unexpected character in media type"); !r) return std::unexpected(r.error());
    return ct;
}

namespace {

// event-type = token-nodot *( "." token-nodot ) (RFC 6665 §8.4): the dots are token characters.
bool is_event_type(std::string_view t) noexcept {
    return !t.empty() && t.front() != '.' && t.back() != '.' && t.find("..") == std::string_view::npos;
}

Substate substate_of(std::string_view value) noexcept {
    if (iequals(value, "active")) return Substate::active;
    if (iequals(value, "pending")) return Substate::pending;
    if (iequals(value, "terminated")) return Substate::terminated;
    return Substate::other;
}

}  // namespace

std::expected<Event, ParseError> parse_event(std::string_view text, const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    Event ev;
    ev.package = c.take(lex::k_token);
    if (!is_event_type(ev.package)) return std::unexpected(at(c, ErrorCode::bad_token, "event type expected"));
    auto params = take_params(c, limits, [&](std::string_view name, std::string_view value, Cursor& cc) -> Result<void> {
        if (iequals(name, "id")) {
            // RFC 6665 §8.4: "id" EQUAL token — a quoted id would never match the REFER's CSeq.
            if (ev.has_id) return std::unexpected(at(cc, ErrorCode::bad_param, "Event id appears twice"));
            if (!is_token(value)) return std::unexpected(at(cc, ErrorCode::bad_param, "Event id needs a token value"));
            ev.id = value;
            ev.has_id = true;
        }
        return {};
    });
    if (!params) return std::unexpected(params.error());
    ev.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_token, "unexpected character in Event"); !r) return std::unexpected(r.error());
    return ev;
}

std::expected<SubscriptionState, ParseError> parse_subscription_state(std::string_view text, const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    SubscriptionState ss;
    ss.value = c.take(lex::k_token);
    if (ss.value.empty()) return std::unexpected(at(c, ErrorCode::bad_token, "subscription state expected"));
    ss.state = substate_of(ss.value);
    auto params = take_params(c, limits, [&](std::string_view name, std::string_view value, Cursor& cc) -> Result<void> {
        if (iequals(name, "expires")) {
            if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "expires needs a value"));
            auto n = number_value(value, off(cc, value), 0xffffffffu);
            if (!n) return std::unexpected(n.error());
            ss.expires = *n;
        } else if (iequals(name, "retry-after")) {
            if (value.empty()) return std::unexpected(at(cc, ErrorCode::bad_param, "retry-after needs a value"));
            auto n = number_value(value, off(cc, value), 0xffffffffu);
            if (!n) return std::unexpected(n.error());
            ss.retry_after = *n;
        } else if (iequals(name, "reason")) {
            ss.reason = value;
        }
        return {};
    });
    if (!params) return std::unexpected(params.error());
    ss.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_token, "unexpected character in Subscription-State"); !r) return std::unexpected(r.error());
    return ss;
}

namespace {

// The tolerant reading of `text`'s parameters after its leading value (which ends at `rest`): the
// text is cut at each ';' outside a quoted string and each piece handed to take(name, value) on
// its own; a piece that is not `name [= value]` with a token name, or that take() refuses, is
// skipped. At most limits.max_params pieces are read. Returns the first piece skipped (its offset
// in `text`), nullopt when none was.
template <class Take>
std::optional<ParseError> tolerant_params(std::string_view text, std::string_view rest, const Limits& limits, Take take) {
    std::optional<ParseError> skipped;
    auto skip = [&](std::string_view where, std::string_view what) {
        if (!skipped) skipped = error(ErrorCode::bad_param, static_cast<std::size_t>(where.data() - text.data()), what);
    };
    std::size_t count = 0;
    bool first = true;  // the piece before the first ';' must be white space
    bool quoted = false;
    std::size_t start = 0;
    for (std::size_t i = 0; i <= rest.size(); ++i) {
        if (i < rest.size()) {
            const char ch = rest[i];
            if (quoted && ch == '\\') {
                ++i;
                continue;
            }
            if (ch == '"') quoted = !quoted;
            if (quoted || ch != ';') continue;
        }
        const std::string_view piece = lex::trim(rest.substr(start, i - start));
        start = i + 1;
        if (first) {
            first = false;
            if (!piece.empty()) skip(piece, "text after the value ignored");
            continue;
        }
        if (++count > limits.max_params) {
            skip(piece, "parameters beyond Limits::max_params ignored");
            break;
        }
        const std::size_t eq = piece.find('=');
        const std::string_view name = lex::trim(piece.substr(0, eq));
        const std::string_view value = eq == std::string_view::npos ? std::string_view() : lex::trim(piece.substr(eq + 1));
        if (!is_token(name)) skip(piece, "parameter without a token name ignored");
        else if (!take(name, value)) skip(piece, "malformed parameter ignored");
    }
    return skipped;
}

// A limit exceeded is never tolerated: that input is refused, not read around.
bool is_limit(ErrorCode code) noexcept {
    return code == ErrorCode::too_many_params || code == ErrorCode::message_too_large ||
           code == ErrorCode::line_too_long || code == ErrorCode::uri_too_long;
}

}  // namespace

std::expected<Tolerated<SubscriptionState>, ParseError> parse_subscription_state_tolerant(std::string_view text,
                                                                                        const Limits& limits) {
    auto strict = parse_subscription_state(text, limits);
    if (strict) return Tolerated<SubscriptionState>{.value = *strict, .ignored = std::nullopt};
    if (is_limit(strict.error().code)) return std::unexpected(strict.error());
    Cursor c(text);
    c.skip_lws();
    SubscriptionState ss;
    ss.value = c.take(lex::k_token);
    if (ss.value.empty()) return std::unexpected(strict.error());
    ss.state = substate_of(ss.value);
    auto ignored = tolerant_params(text, c.rest(), limits, [&](std::string_view name, std::string_view value) {
        if (iequals(name, "expires") || iequals(name, "retry-after")) {
            auto n = parse_uint(value, 0xffffffffu);
            if (!n) return false;
            (iequals(name, "expires") ? ss.expires : ss.retry_after) = *n;
        } else if (iequals(name, "reason")) {
            if (!is_token(value)) return false;
            ss.reason = value;
        }
        return true;
    });
    // The strict parse failed, so something was skipped even when every piece read well.
    return Tolerated<SubscriptionState>{.value = ss, .ignored = ignored.value_or(strict.error())};
}

std::expected<Tolerated<Event>, ParseError> parse_event_tolerant(std::string_view text, const Limits& limits) {
    auto strict = parse_event(text, limits);
    if (strict) return Tolerated<Event>{.value = *strict, .ignored = std::nullopt};
    if (is_limit(strict.error().code)) return std::unexpected(strict.error());
    Cursor c(text);
    c.skip_lws();
    Event ev;
    ev.package = c.take(lex::k_token);
    if (!is_event_type(ev.package)) return std::unexpected(strict.error());
    bool id_twice = false;
    auto ignored = tolerant_params(text, c.rest(), limits, [&](std::string_view name, std::string_view value) {
        if (!iequals(name, "id")) return true;
        // Two ids name no subscription: neither is taken (RFC 6665 §8.4: one id, a token).
        if (ev.has_id || id_twice) {
            id_twice = true;
            ev.id = {};
            ev.has_id = false;
            return false;
        }
        if (!is_token(value)) return false;
        ev.id = value;
        ev.has_id = true;
        return true;
    });
    return Tolerated<Event>{.value = ev, .ignored = ignored.value_or(strict.error())};
}

std::expected<ReferSub, ParseError> parse_refer_sub(std::string_view text, const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    std::string_view v = c.take(lex::k_token);
    ReferSub rs;
    if (iequals(v, "true")) rs.value = true;
    else if (iequals(v, "false")) rs.value = false;
    else return std::unexpected(error(ErrorCode::bad_token, off(c, v), "Refer-Sub must be true or false"));
    auto params = take_params(c, limits, [](std::string_view, std::string_view, Cursor&) { return ok(); });
    if (!params) return std::unexpected(params.error());
    rs.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_token, "unexpected character in Refer-Sub"); !r) return std::unexpected(r.error());
    return rs;
}

namespace {
Result<DialogRef> parse_dialog_ref(std::string_view text, std::string_view to_name, std::string_view from_name, bool replaces,
                                   const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    DialogRef d;
    const char* s = c.p;
    if (c.take(lex::k_word).empty()) return std::unexpected(at(c, ErrorCode::bad_call_id, "Call-ID expected"));
    if (c.consume('@') && c.take(lex::k_word).empty()) return std::unexpected(at(c, ErrorCode::bad_call_id, "word expected after '@'"));
    d.call_id = c.since(s);
    bool have_to = false, have_from = false;
    auto params = take_params(c, limits, [&](std::string_view name, std::string_view value, Cursor& cc) -> Result<void> {
        // RFC 3891 §6.1 / RFC 4538 §7: exactly one of each tag, each EQUAL token.
        bool to = iequals(name, to_name);
        if (to || iequals(name, from_name)) {
            bool& have = to ? have_to : have_from;
            if (have) return std::unexpected(at(cc, ErrorCode::bad_param, "dialog tag parameter appears twice"));
            if (!is_token(value)) return std::unexpected(at(cc, ErrorCode::bad_param, "dialog tag needs a token value"));
            (to ? d.to_tag : d.from_tag) = value;
            have = true;
        } else if (replaces && iequals(name, "early-only")) {
            d.early_only = true;
        }
        return {};
    });
    if (!params) return std::unexpected(params.error());
    d.params = *params;
    if (auto r = expect_end(c, ErrorCode::bad_param, "unexpected character after dialog parameters"); !r) return std::unexpected(r.error());
    // RFC 3891 §6.1 / RFC 4538 §7: both tags are required.
    if (!have_to || !have_from)
        return std::unexpected(error(ErrorCode::bad_param, text.size(), replaces ? "Replaces needs to-tag and from-tag" : "Target-Dialog needs remote-tag and local-tag"));
    return d;
}
}  // namespace

std::expected<DialogRef, ParseError> parse_replaces(std::string_view text, const Limits& limits) {
    return parse_dialog_ref(text, "to-tag", "from-tag", true, limits);
}
std::expected<DialogRef, ParseError> parse_target_dialog(std::string_view text, const Limits& limits) {
    return parse_dialog_ref(text, "remote-tag", "local-tag", false, limits);
}

std::expected<AuthParams, ParseError> parse_auth(std::string_view text, const Limits& limits) {
    Cursor c(text);
    c.skip_lws();
    AuthParams a;
    a.scheme = c.take(lex::k_token);
    if (a.scheme.empty()) return std::unexpected(at(c, ErrorCode::bad_auth, "authentication scheme expected"));
    if (!c.skip_lws() && !c.at_end()) return std::unexpected(at(c, ErrorCode::bad_auth, "white space expected after the scheme"));
    while (!c.at_end()) {
        std::string_view name = c.take(lex::k_token);
        if (name.empty()) return std::unexpected(at(c, ErrorCode::bad_auth, "auth-param name expected"));
        if (!c.separator('=')) return std::unexpected(at(c, ErrorCode::bad_auth, "'=' expected after auth-param name"));
        std::string_view raw, inner;
        if (c.peek() == '"') {
            raw = lex::take_quoted(c);
            if (raw.empty()) return std::unexpected(at(c, ErrorCode::bad_quoted_string, "unterminated quoted auth-param"));
            inner = raw.substr(1, raw.size() - 2);
        } else {
            raw = inner = c.take(lex::k_token);
            if (raw.empty()) return std::unexpected(at(c, ErrorCode::bad_auth, "auth-param value expected"));
        }
        if (a.params.size() >= limits.max_params) return std::unexpected(at(c, ErrorCode::too_many_params, "too many auth-params"));
        a.params.push_back(Param{name, raw, true});
        struct Known { std::string_view n; std::string_view AuthParams::*m; };
        static constexpr Known known[] = {
            {"realm", &AuthParams::realm}, {"nonce", &AuthParams::nonce}, {"opaque", &AuthParams::opaque},
            {"algorithm", &AuthParams::algorithm}, {"qop", &AuthParams::qop}, {"stale", &AuthParams::stale},
            {"domain", &AuthParams::domain}, {"username", &AuthParams::username}, {"uri", &AuthParams::uri},
            {"response", &AuthParams::response}, {"cnonce", &AuthParams::cnonce}, {"nc", &AuthParams::nc},
            {"userhash", &AuthParams::userhash},
        };
        for (const Known& k : known)
            if (iequals(name, k.n)) { a.*(k.m) = inner; break; }
        c.skip_lws();
        if (c.at_end()) break;
        if (!c.separator(',')) return std::unexpected(at(c, ErrorCode::bad_auth, "',' expected between auth-params"));
    }
    return a;
}

std::expected<std::vector<std::string_view>, ParseError> split_list(std::string_view text, ListOptions options) {
    std::vector<std::string_view> out;
    if (options.allow_empty && lex::trim(text).empty()) return out;
    auto r = for_each_element(text, [&](std::string_view e, std::uint32_t) -> Result<void> {
        out.push_back(e);
        return {};
    });
    if (!r) return std::unexpected(r.error());
    return out;
}

}  // namespace referkit
