// Refer-To building (transferor) and reading (transferee): RFC 3515 §2.1, RFC 3891 §6.1,
// RFC 3261 §19.1.5.
#include "referkit/core/refer_to.hpp"

#include <algorithm>

#include "referkit/core/header_id.hpp"
#include "referkit/core/headers.hpp"
#include "referkit/core/params.hpp"

namespace referkit {

std::string_view to_string(ReferTargetErrc code) noexcept {
    switch (code) {
        case ReferTargetErrc::empty: return "empty target";
        case ReferTargetErrc::bad_target: return "malformed target";
        case ReferTargetErrc::bad_scheme: return "unsupported URI scheme";
        case ReferTargetErrc::no_domain: return "user name without a domain";
        case ReferTargetErrc::not_confirmed: return "the other dialog is not confirmed";
    }
    return "?";
}

namespace {

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

ReferTargetError fail(ReferTargetErrc code, std::string detail) {
    return ReferTargetError{.code = code, .detail = std::move(detail)};
}

bool allowed_scheme(Scheme s) noexcept {
    switch (s) {
        case Scheme::sip:
        case Scheme::sips:
        case Scheme::tel: return true;
        case Scheme::other: return false;
    }
    return false;
}

// RFC 3261 §25.1 quoted-string: '"' and '\' become quoted-pairs; CR/LF cannot appear (dropped).
std::string quote(std::string_view text) {
    std::string out = "\"";
    for (char c : text) {
        if (c == '\r' || c == '\n') continue;
        if (c == '"' || c == '\\') out += '\\';
        out += c;
    }
    out += '"';
    return out;
}

std::string with_display(std::string_view display, DisplayNamePolicy policy, std::string_view uri) {
    std::string out;
    switch (policy) {
        case DisplayNamePolicy::escape:
            if (!trim(display).empty()) {
                out = quote(trim(display));
                out += ' ';
            }
            break;
        case DisplayNamePolicy::omit: break;
    }
    out += '<';
    out += uri;
    out += '>';
    return out;
}

// "sip:", "tel:" ... at the start: a scheme token followed by ':' that is not "host:port".
bool has_scheme(std::string_view t) noexcept {
    std::size_t colon = t.find(':');
    if (colon == 0 || colon == std::string_view::npos) return false;
    std::string_view scheme = t.substr(0, colon);
    if (scheme.find('@') != std::string_view::npos) return false;
    if (!((scheme[0] >= 'a' && scheme[0] <= 'z') || (scheme[0] >= 'A' && scheme[0] <= 'Z'))) return false;
    for (char c : scheme) {
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.';
        if (!ok) return false;
    }
    std::string_view rest = t.substr(colon + 1);
    bool all_digits = !rest.empty() && std::all_of(rest.begin(), rest.end(), [](char c) { return c >= '0' && c <= '9'; });
    return !all_digits;  // "host:5060" is a host and a port
}

// A telephone number with visual separators: digits, '+', '*', '#', and " -.()" only.
bool phone_like(std::string_view t) noexcept {
    bool digit = false;
    for (char c : t) {
        if (c >= '0' && c <= '9') { digit = true; continue; }
        if (c == '+' || c == '*' || c == '#' || c == ' ' || c == '-' || c == '.' || c == '(' || c == ')') continue;
        return false;
    }
    return digit;
}

}  // namespace

std::expected<std::string, ReferTargetError> make_refer_to(std::string_view target, const ReferToOptions& options) {
    std::string_view t = trim(target);
    if (t.empty()) return std::unexpected(fail(ReferTargetErrc::empty, "empty transfer target"));

    if (t.find('<') != std::string_view::npos || t.front() == '"') {
        auto na = parse_name_addr(t);
        if (!na) return std::unexpected(fail(ReferTargetErrc::bad_target, na.error().describe()));
        if (!allowed_scheme(na->uri.scheme))
            return std::unexpected(fail(ReferTargetErrc::bad_scheme, std::string(na->uri.scheme_text)));
        std::string out = with_display(na->display(), options.display_name, na->uri.text);
        if (!na->params.empty()) {
            out += ';';
            out += na->params.text();
        }
        return out;
    }

    if (has_scheme(t)) {
        auto uri = parse_uri(t, UriContext::name_addr);
        if (!uri) {
            if (uri.error().code == ErrorCode::bad_scheme)
                return std::unexpected(fail(ReferTargetErrc::bad_scheme, uri.error().describe()));
            return std::unexpected(fail(ReferTargetErrc::bad_target, uri.error().describe()));
        }
        if (!allowed_scheme(uri->scheme))
            return std::unexpected(fail(ReferTargetErrc::bad_scheme, std::string(uri->scheme_text)));
        // Whole input consumed as one URI (a space or '>' would have been refused by parse_uri).
        return with_display({}, options.display_name, t);
    }

    // A user name, user@host or a phone number: completed into a sip/sips URI.
    std::string user;
    std::string host;
    if (std::size_t at = t.rfind('@'); at != std::string_view::npos) {
        user = std::string(t.substr(0, at));
        host = std::string(t.substr(at + 1));
    } else {
        user = std::string(t);
        host = options.default_domain;
        if (host.empty()) return std::unexpected(fail(ReferTargetErrc::no_domain, "no domain for '" + user + "'"));
    }
    if (phone_like(user)) {
        std::erase_if(user, [](char c) { return c == ' ' || c == '-' || c == '.' || c == '(' || c == ')'; });
    }
    if (user.empty() || host.empty()) return std::unexpected(fail(ReferTargetErrc::bad_target, std::string(t)));
    // user-unreserved (RFC 3261 §25.1) and existing escapes kept; anything else escaped.
    std::string uri = options.default_scheme == Scheme::sips ? "sips:" : "sip:";
    uri += percent_encode(user, "&=+$,;?/%");
    uri += '@';
    uri += host;
    auto parsed = parse_uri(uri, UriContext::name_addr);
    if (!parsed) return std::unexpected(fail(ReferTargetErrc::bad_target, parsed.error().describe()));
    return with_display({}, options.display_name, uri);
}

std::expected<std::string, ReferTargetError> make_attended_refer_to(const DialogInfo& other,
                                                                    const AttendedReferToOptions& options) {
    if (other.early || other.call_id.empty() || other.local_tag.empty() || other.remote_tag.empty() ||
        other.remote_target.empty())
        return std::unexpected(fail(ReferTargetErrc::not_confirmed, "attended transfer needs a confirmed dialog"));
    auto uri = parse_uri(other.remote_target, UriContext::name_addr);
    if (!uri) return std::unexpected(fail(ReferTargetErrc::bad_target, uri.error().describe()));
    switch (uri->scheme) {
        case Scheme::sip:
        case Scheme::sips: break;
        case Scheme::tel:
        case Scheme::other:
            return std::unexpected(fail(ReferTargetErrc::bad_target, "remote target is not a sip/sips URI"));
    }
    std::string_view base = uri->text;
    if (std::size_t q = base.find('?'); q != std::string_view::npos) base = base.substr(0, q);
    // RFC 3891 §6.1: to-tag is the remote tag and from-tag the local tag of that dialog as seen by
    // the UA that receives the INVITE (the other party), i.e. our remote and local tags.
    std::string replaces = other.call_id + ";to-tag=" + other.remote_tag + ";from-tag=" + other.local_tag;
    std::string target(base);
    target += "?Replaces=";
    target += percent_encode(replaces);  // RFC 3515 §2.1: the whole value escaped ('@', ';', '=' included)

    std::string display = options.display;
    if (display.empty()) {
        if (auto na = parse_name_addr(other.remote_uri)) display = na->display();
    }
    return with_display(display, options.display_name, target);
}

std::expected<ReferTarget, ParseError> read_refer_to(const NameAddr& refer_to) {
    const Uri& uri = refer_to.uri;
    if (!allowed_scheme(uri.scheme))
        return std::unexpected(ParseError{.code = ErrorCode::bad_scheme, .offset = 0, .status = 416,
                                          .what = "Refer-To scheme is not sip, sips or tel"});
    ReferTarget out;
    // The URI without parameters and headers, then the parameters except "method" (§19.1.5).
    std::string_view text = uri.text;
    std::size_t cut = text.size();
    if (!uri.params.empty()) cut = static_cast<std::size_t>(uri.params.text().data() - text.data()) - 1;
    else if (std::size_t q = text.find('?'); q != std::string_view::npos) cut = q;
    out.uri = std::string(text.substr(0, cut));
    for (const Param& p : uri.params) {
        if (iequals(p.name, "method")) {
            out.method = std::string(p.value);
            continue;
        }
        out.uri += ';';
        out.uri += p.name;
        if (p.has_value) {
            out.uri += '=';
            out.uri += p.value;
        }
    }

    std::string_view rest = uri.headers;
    while (!rest.empty()) {
        std::size_t amp = rest.find('&');
        std::string_view h = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view{} : rest.substr(amp + 1);
        if (h.empty()) continue;
        std::size_t eq = h.find('=');
        std::string name = percent_decode(h.substr(0, eq));
        std::string value = eq == std::string_view::npos ? std::string{} : percent_decode(h.substr(eq + 1));
        if (iequals(name, "body")) {
            out.body = std::move(value);
            continue;
        }
        HeaderId id = is_token(name) ? lookup_header(name) : HeaderId::other;
        bool honour = true;
        switch (id) {
            // RFC 3261 §19.1.5: "obviously dangerous" fields, Route, and the ones that would
            // misadvertise our location or capabilities; plus what the UAC itself must compute.
            case HeaderId::from: case HeaderId::to: case HeaderId::call_id: case HeaderId::cseq:
            case HeaderId::via: case HeaderId::record_route: case HeaderId::route: case HeaderId::contact:
            case HeaderId::max_forwards: case HeaderId::content_length: case HeaderId::accept:
            case HeaderId::accept_encoding: case HeaderId::accept_language: case HeaderId::allow:
            case HeaderId::organization: case HeaderId::supported: case HeaderId::user_agent:
                honour = false;
                break;
            case HeaderId::replaces: {
                if (out.replaces)
                    return std::unexpected(ParseError{.code = ErrorCode::duplicate_header, .offset = 0,
                                                      .status = 400, .what = "Replaces embedded twice"});
                auto r = parse_replaces(value);
                if (!r) return std::unexpected(ParseError{.code = r.error().code, .offset = 0, .status = 400,
                                                          .what = "malformed embedded Replaces"});
                out.replaces = value;
                break;
            }
            case HeaderId::other: honour = is_token(name); break;
            case HeaderId::accept_contact: case HeaderId::alert_info: case HeaderId::allow_events:
            case HeaderId::authentication_info: case HeaderId::authorization: case HeaderId::call_info:
            case HeaderId::content_disposition: case HeaderId::content_encoding:
            case HeaderId::content_language: case HeaderId::content_type: case HeaderId::date:
            case HeaderId::error_info: case HeaderId::event: case HeaderId::expires: case HeaderId::identity:
            case HeaderId::identity_info: case HeaderId::in_reply_to: case HeaderId::min_expires:
            case HeaderId::min_se: case HeaderId::mime_version: case HeaderId::p_asserted_identity:
            case HeaderId::path: case HeaderId::priority: case HeaderId::privacy:
            case HeaderId::proxy_authenticate: case HeaderId::proxy_authorization:
            case HeaderId::proxy_require: case HeaderId::rack: case HeaderId::reason: case HeaderId::refer_sub:
            case HeaderId::refer_to: case HeaderId::referred_by: case HeaderId::reject_contact:
            case HeaderId::reply_to: case HeaderId::request_disposition: case HeaderId::require:
            case HeaderId::retry_after: case HeaderId::rseq: case HeaderId::server:
            case HeaderId::service_route: case HeaderId::session_expires: case HeaderId::subject:
            case HeaderId::subscription_state: case HeaderId::target_dialog: case HeaderId::timestamp:
            case HeaderId::unsupported: case HeaderId::warning: case HeaderId::www_authenticate:
                break;
        }
        if (!honour) {
            out.dropped.push_back(std::move(name));
            continue;
        }
        out.headers.push_back(EmbeddedHeader{.name = std::move(name), .value = std::move(value)});
    }
    return out;
}

}  // namespace referkit
