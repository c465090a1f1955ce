// HTTP Digest for SIP: RFC 3261 §22, RFC 7616 §3.3-§3.4, RFC 8760 §2. The hash is injected.
#include "referkit/core/digest.hpp"

#include "auth_params.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

#include "referkit/core/header_id.hpp"
#include "referkit/core/params.hpp"

namespace referkit {

namespace {

using auth_detail::constant_time_iequals;
using auth_detail::raw_param;

constexpr std::string_view k_masked = "***";

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) s.remove_suffix(1);
    return s;
}

std::optional<DigestAlgorithm> parse_algorithm(std::string_view text) noexcept {
    // RFC 7616 §3.3: absent means MD5.
    if (text.empty() || iequals(text, "MD5")) return DigestAlgorithm::md5;
    if (iequals(text, "MD5-sess")) return DigestAlgorithm::md5_sess;
    if (iequals(text, "SHA-256")) return DigestAlgorithm::sha256;
    if (iequals(text, "SHA-256-sess")) return DigestAlgorithm::sha256_sess;
    return std::nullopt;  // SHA-512-256 and unknown tokens: "the challenge SHOULD be ignored" (RFC 7616 §3.3)
}

bool is_session(DigestAlgorithm alg) noexcept {
    switch (alg) {
    case DigestAlgorithm::md5:
    case DigestAlgorithm::sha256: return false;
    case DigestAlgorithm::md5_sess:
    case DigestAlgorithm::sha256_sess: return true;
    }
    return false;
}

// Higher is stronger. Local policy: SHA-256 over MD5 (RFC 8760 §2.4 lets local policy override
// "the topmost header field that it supports").
int strength(DigestAlgorithm alg) noexcept {
    switch (alg) {
    case DigestAlgorithm::md5:
    case DigestAlgorithm::md5_sess: return 1;
    case DigestAlgorithm::sha256:
    case DigestAlgorithm::sha256_sess: return 2;
    }
    return 0;
}

// The unquoted (escapes removed) value of an auth-param, or "" when absent.
std::string param_text(const AuthParams& a, std::string_view name) {
    auto raw = raw_param(a, name);
    return raw ? unquote(*raw) : std::string{};
}

// A quoted-string with '"' and '\' escaped (RFC 3261 §25.1 quoted-pair).
void append_quoted(std::string& out, std::string_view value) {
    out += '"';
    for (char ch : value) {
        if (ch == '"' || ch == '\\') out += '\\';
        out += ch;
    }
    out += '"';
}

std::string hex8(std::uint32_t n) {
    static constexpr char digits[] = "0123456789abcdef";
    std::string s(8, '0');
    for (int i = 7; i >= 0; --i) {
        s[static_cast<std::size_t>(i)] = digits[n & 0xFU];
        n >>= 4U;
    }
    return s;
}

std::string join(std::initializer_list<std::string_view> parts) {
    std::string s;
    bool first = true;
    for (std::string_view p : parts) {
        if (!first) s += ':';
        first = false;
        s += p;
    }
    return s;
}

enum class Qop : std::uint8_t { none, auth, auth_int };

struct ResponseInputs {
    DigestAlgorithm algorithm = DigestAlgorithm::md5;
    std::string_view username;  // the plain user name (A1 always uses it, RFC 7616 §3.4.4)
    std::string_view realm;
    std::string_view password;
    std::string_view nonce;
    std::string_view cnonce;
    std::string_view nc;  // 8 hex digits as sent
    Qop qop = Qop::none;
    std::string_view method;
    std::string_view uri;
    std::string_view body;
};

// RFC 7616 §3.4.1-§3.4.3; with no qop, the RFC 2069 form of RFC 3261 §22.4 / RFC 2617 §3.2.2.1.
std::string compute_response(const ResponseInputs& in, const DigestHash& hash) {
    std::string ha1 = hash(in.algorithm, join({in.username, in.realm, in.password}));
    if (is_session(in.algorithm)) ha1 = hash(in.algorithm, join({ha1, in.nonce, in.cnonce}));
    std::string ha2;
    switch (in.qop) {
    case Qop::none:
    case Qop::auth: ha2 = hash(in.algorithm, join({in.method, in.uri})); break;
    // RFC 8760 §2.6 item 7: an empty body hashes as H("").
    case Qop::auth_int: ha2 = hash(in.algorithm, join({in.method, in.uri, hash(in.algorithm, in.body)})); break;
    }
    switch (in.qop) {
    case Qop::none: return hash(in.algorithm, join({ha1, in.nonce, ha2}));
    case Qop::auth: return hash(in.algorithm, join({ha1, in.nonce, in.nc, in.cnonce, "auth", ha2}));
    case Qop::auth_int: return hash(in.algorithm, join({ha1, in.nonce, in.nc, in.cnonce, "auth-int", ha2}));
    }
    return {};
}


enum class ChallengeParse : std::uint8_t { ok, unsupported, malformed };

ChallengeParse read_challenge(const AuthParams& a, bool proxy, DigestChallenge& out) {
    if (!iequals(a.scheme, "Digest")) return ChallengeParse::unsupported;  // Basic is never used in SIP (RFC 8760 §2.6)
    auto realm = raw_param(a, "realm");
    auto nonce = raw_param(a, "nonce");
    if (!realm || !nonce) return ChallengeParse::malformed;  // RFC 3261 §25.1 digest-cln: realm and nonce are required
    auto alg = parse_algorithm(unquote(raw_param(a, "algorithm").value_or("")));
    if (!alg) return ChallengeParse::unsupported;
    out = DigestChallenge{};
    out.proxy = proxy;
    out.realm = unquote(*realm);
    out.nonce = unquote(*nonce);
    out.opaque = param_text(a, "opaque");
    out.algorithm = *alg;
    if (auto qop = raw_param(a, "qop")) {
        std::string list = unquote(*qop);
        std::string_view rest = list;
        while (!rest.empty()) {
            std::size_t comma = rest.find(',');
            std::string_view item = trim(rest.substr(0, comma));
            if (iequals(item, "auth")) out.qop_auth = true;
            else if (iequals(item, "auth-int")) out.qop_auth_int = true;  // other options MUST be ignored (RFC 7616 §3.3)
            rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
        }
        // A qop list with nothing we can answer: we cannot comply with this challenge.
        if (!out.qop_auth && !out.qop_auth_int) return ChallengeParse::unsupported;
    }
    out.stale = iequals(param_text(a, "stale"), "true");
    out.userhash = iequals(param_text(a, "userhash"), "true");
    return ChallengeParse::ok;
}

}  // namespace

std::string_view to_string(DigestAlgorithm alg) noexcept {
    switch (alg) {
    case DigestAlgorithm::md5: return "MD5";
    case DigestAlgorithm::md5_sess: return "MD5-sess";
    case DigestAlgorithm::sha256: return "SHA-256";
    case DigestAlgorithm::sha256_sess: return "SHA-256-sess";
    }
    return "";
}

std::string_view to_string(DigestError e) noexcept {
    switch (e) {
    case DigestError::no_challenge: return "no supported Digest challenge";
    case DigestError::malformed_challenge: return "malformed Digest challenge";
    }
    return "";
}

std::expected<std::vector<DigestChallenge>, DigestError> digest_challenges(const Message& response) {
    std::vector<DigestChallenge> out;
    bool malformed = false;
    for (const HeaderField& h : response.headers()) {
        bool proxy = false;
        if (h.id == HeaderId::proxy_authenticate) proxy = true;
        else if (h.id != HeaderId::www_authenticate) continue;
        auto parsed = parse_auth(h.value, response.limits());
        if (!parsed) {
            malformed = true;  // RFC 8760 §2.4: ignore a challenge we do not understand; report only if nothing else works
            continue;
        }
        DigestChallenge c;
        switch (read_challenge(*parsed, proxy, c)) {
        case ChallengeParse::ok: break;
        case ChallengeParse::unsupported: continue;
        case ChallengeParse::malformed: malformed = true; continue;
        }
        // One challenge per (header kind, realm): the strongest algorithm; among equals the topmost
        // (RFC 8760 §2.4 "SHOULD use the topmost header field that it supports unless a local policy
        // dictates otherwise": our policy prefers SHA-256 to MD5).
        auto same = std::find_if(out.begin(), out.end(),
                                 [&](const DigestChallenge& o) { return o.proxy == c.proxy && o.realm == c.realm; });
        if (same == out.end()) out.push_back(std::move(c));
        else if (strength(c.algorithm) > strength(same->algorithm)) *same = std::move(c);
    }
    if (out.empty()) return std::unexpected(malformed ? DigestError::malformed_challenge : DigestError::no_challenge);
    return out;
}

std::string digest_authorization(const DigestChallenge& c, const Credentials& cred, const DigestAnswer& a,
                                 const DigestHash& hash) {
    Qop qop = Qop::none;
    if (c.qop_auth) qop = Qop::auth;
    else if (c.qop_auth_int) qop = Qop::auth_int;
    // RFC 8760 §2.6 item 8: qop defaults to "auth"; only a SHA-256 server is sure to follow RFC 8760.
    // An MD5 challenge without qop comes from an RFC 2069/2543-era server: answer in that form (RFC 3261 §22.4).
    else if (strength(c.algorithm) > strength(DigestAlgorithm::md5)) qop = Qop::auth;
    const bool uses_cnonce = qop != Qop::none || is_session(c.algorithm);
    const std::string nc = hex8(a.nc);

    std::string response = compute_response(ResponseInputs{.algorithm = c.algorithm, .username = cred.username,
                                                            .realm = c.realm, .password = cred.password,
                                                            .nonce = c.nonce, .cnonce = a.cnonce, .nc = nc, .qop = qop,
                                                            .method = a.method, .uri = a.uri, .body = a.body},
                                             hash);
    std::string out = "Digest username=";
    // RFC 7616 §3.4.4: username = H(unq(username) ":" unq(realm)), same algorithm.
    if (c.userhash) append_quoted(out, hash(c.algorithm, join({cred.username, c.realm})));
    else append_quoted(out, cred.username);
    out += ", realm=";
    append_quoted(out, c.realm);
    out += ", nonce=";
    append_quoted(out, c.nonce);
    out += ", uri=";  // RFC 8760 §2.6 item 2: uri is always quoted
    append_quoted(out, a.uri);
    out += ", response=";
    append_quoted(out, response);
    out += ", algorithm=";
    out += to_string(c.algorithm);
    if (uses_cnonce) {
        out += ", cnonce=";
        append_quoted(out, a.cnonce);
    }
    if (!c.opaque.empty()) {
        out += ", opaque=";
        append_quoted(out, c.opaque);
    }
    switch (qop) {
    case Qop::none: break;
    case Qop::auth: out += ", qop=auth, nc="; out += nc; break;
    case Qop::auth_int: out += ", qop=auth-int, nc="; out += nc; break;
    }
    if (c.userhash) out += ", userhash=true";
    return out;
}

bool credentials_match(const Credentials& cred, const DigestChallenge& c) noexcept {
    return cred.realm.empty() || cred.realm == c.realm;
}

std::string_view digest_header_name(const DigestChallenge& c) noexcept {
    return c.proxy ? "Proxy-Authorization" : "Authorization";
}

std::string digest_challenge_value(std::string_view realm, std::string_view nonce, DigestAlgorithm alg, bool qop_auth,
                                   bool stale, std::string_view opaque) {
    std::string out = "Digest realm=";
    append_quoted(out, realm);
    out += ", nonce=";
    append_quoted(out, nonce);
    if (!opaque.empty()) {
        out += ", opaque=";
        append_quoted(out, opaque);
    }
    out += ", algorithm=";  // RFC 7616 §3.3: algorithm and stale are never quoted
    out += to_string(alg);
    if (qop_auth) out += ", qop=\"auth\"";
    if (stale) out += ", stale=true";
    return out;
}

bool digest_verify(const AuthParams& credentials, std::string_view method, std::string_view password,
                   std::string_view body, const DigestHash& hash) {
    if (!iequals(credentials.scheme, "Digest")) return false;
    auto alg = parse_algorithm(unquote(raw_param(credentials, "algorithm").value_or("")));
    if (!alg) return false;
    if (iequals(param_text(credentials, "userhash"), "true")) return false;  // needs a userhash table (documented)
    auto username = raw_param(credentials, "username");
    auto realm = raw_param(credentials, "realm");
    auto nonce = raw_param(credentials, "nonce");
    auto uri = raw_param(credentials, "uri");
    auto response = raw_param(credentials, "response");
    if (!username || !realm || !nonce || !uri || !response) return false;
    std::string qop_text = param_text(credentials, "qop");
    Qop qop = Qop::none;
    if (qop_text.empty()) qop = Qop::none;
    else if (iequals(qop_text, "auth")) qop = Qop::auth;
    else if (iequals(qop_text, "auth-int")) qop = Qop::auth_int;
    else return false;
    std::string cnonce = param_text(credentials, "cnonce");
    std::string nc = param_text(credentials, "nc");
    if (qop != Qop::none && (nc.size() != 8 || cnonce.empty())) return false;  // RFC 7616 §3.4: nc is 8 hex digits
    if (is_session(*alg) && cnonce.empty()) return false;
    std::string user = unquote(*username), realm_text = unquote(*realm), nonce_text = unquote(*nonce),
                uri_text = unquote(*uri);
    std::string expected = compute_response(ResponseInputs{.algorithm = *alg, .username = user, .realm = realm_text,
                                                           .password = password, .nonce = nonce_text,
                                                           .cnonce = cnonce, .nc = nc, .qop = qop, .method = method,
                                                           .uri = uri_text, .body = body},
                                            hash);
    return !expected.empty() && constant_time_iequals(expected, unquote(*response));
}

std::string mask_credentials(std::string_view authorization_value) {
    auto parsed = parse_auth(authorization_value);
    if (!parsed) return std::string(k_masked);
    std::string out;
    std::size_t pos = 0;  // the parsed values are views into authorization_value, in order
    for (const Param& p : parsed->params) {
        if (!iequals(p.name, "response") && !iequals(p.name, "cnonce") && !iequals(p.name, "nonce")) continue;
        auto start = static_cast<std::size_t>(p.value.data() - authorization_value.data());
        out.append(authorization_value.substr(pos, start - pos));
        if (p.value.starts_with('"')) {
            out += '"';
            out += k_masked;
            out += '"';
        } else {
            out += k_masked;
        }
        pos = start + p.value.size();
    }
    out.append(authorization_value.substr(pos));
    return out;
}

}  // namespace referkit
