// The UAS side of Digest: RFC 3261 §22.2-§22.4, RFC 7616 §3.3-§3.5 (nonce, stale, nc), RFC 8760.
#include "referkit/core/digest_server.hpp"

#include <algorithm>
#include <charconv>

#include "auth_params.hpp"
#include "referkit/core/header_id.hpp"
#include "referkit/core/params.hpp"

namespace referkit {

namespace {

constexpr std::size_t k_mac_hex = 32;

void append_hex16(std::string& out, std::uint64_t v) {
    static constexpr char digits[] = "0123456789abcdef";
    for (int shift = 60; shift >= 0; shift -= 4) out += digits[(v >> shift) & 0xF];
}

std::optional<std::uint64_t> parse_hex(std::string_view s) noexcept {
    std::uint64_t v = 0;
    if (s.empty() || s.size() > 16) return std::nullopt;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc{} || p != s.data() + s.size()) return std::nullopt;
    return v;
}

// The value of the first auth-param `name` as written ("" when absent): what digest_verify reads.
std::string_view first_param(const AuthParams& a, std::string_view name) noexcept {
    return auth_detail::raw_param(a, name).value_or(std::string_view{});
}

}  // namespace

std::string_view to_string(DigestCheck c) noexcept {
    switch (c) {
        case DigestCheck::ok: return "ok";
        case DigestCheck::missing: return "no credentials";
        case DigestCheck::bad_nonce: return "not our nonce";
        case DigestCheck::wrong: return "wrong credentials";
        case DigestCheck::stale: return "stale nonce";
    }
    return "?";
}

DigestServer::DigestServer(DigestServerConfig config, DigestHash hash, std::uint64_t secret_a,
                           std::uint64_t secret_b)
    : config_(std::move(config)), hash_(std::move(hash)) {
    append_hex16(secret_, secret_a);
    append_hex16(secret_, secret_b);
}

std::string DigestServer::mac(std::string_view issued_and_salt) const {
    std::string data = secret_;
    data += ':';
    data += issued_and_salt;
    std::string h = hash_(DigestAlgorithm::sha256, data);
    if (h.size() > k_mac_hex) h.resize(k_mac_hex);
    return h;
}

std::optional<Time> DigestServer::issued_at(std::string_view nonce) const {
    // "<16 hex issued>-<16 hex salt>-<32 hex mac>"
    if (nonce.size() != 16 + 1 + 16 + 1 + k_mac_hex || nonce[16] != '-' || nonce[33] != '-') return std::nullopt;
    // Ours are lowercase: one nonce has one spelling (the replay table's key), and the mac's
    // case-insensitive comparison below is then exact.
    if (std::any_of(nonce.begin(), nonce.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) return std::nullopt;
    auto issued = parse_hex(nonce.substr(0, 16));
    if (!issued || !parse_hex(nonce.substr(17, 16))) return std::nullopt;
    if (!auth_detail::constant_time_iequals(mac(nonce.substr(0, 33)), nonce.substr(34))) return std::nullopt;
    return Time{static_cast<Time::rep>(*issued)};
}

std::vector<std::string> DigestServer::challenge(Time now, bool stale, std::uint64_t salt) const {
    std::string nonce;
    append_hex16(nonce, static_cast<std::uint64_t>(now.count()));
    nonce += '-';
    append_hex16(nonce, salt);
    std::string m = mac(nonce);
    nonce += '-';
    nonce += m;
    std::vector<std::string> out;
    out.reserve(config_.algorithms.size());
    for (DigestAlgorithm alg : config_.algorithms)
        out.push_back(digest_challenge_value(config_.realm, nonce, alg, /*qop_auth=*/true, stale));
    return out;
}

void DigestServer::expire(Time now) {
    while (!order_.empty()) {
        auto it = used_.find(order_.front());
        if (it != used_.end() && now - it->second.issued < config_.nonce_lifetime) return;
        if (it != used_.end()) used_.erase(it);
        order_.pop_front();
    }
}

DigestVerdict DigestServer::check(const Message& request, Time now) {
    auto all = request.auth(HeaderId::authorization);
    if (!all) return {.check = DigestCheck::missing};  // a malformed Authorization is no credentials
    const AuthParams* creds = nullptr;
    for (const AuthParams& a : *all)
        if (iequals(a.scheme, "Digest") && unquote(first_param(a, "realm")) == config_.realm) {
            creds = &a;
            break;
        }
    if (creds == nullptr) return {.check = DigestCheck::missing};
    // RFC 7616 §3.4: each parameter once. With a repeated one, what is checked here (nonce, uri,
    // nc) and what the hash covers could differ: a captured answer with a fresh nonce appended.
    for (std::size_t i = 0; i < creds->params.size(); ++i)
        for (std::size_t j = i + 1; j < creds->params.size(); ++j)
            if (iequals(creds->params[i].name, creds->params[j].name)) return {.check = DigestCheck::wrong};
    // The same values digest_verify reads: the first (only) of each, unquoted.
    const std::string nonce = unquote(first_param(*creds, "nonce"));
    auto issued = issued_at(nonce);
    if (!issued) return {.check = DigestCheck::bad_nonce};
    const std::string username = unquote(first_param(*creds, "username"));
    auto account = std::find_if(config_.accounts.begin(), config_.accounts.end(),
                                [&](const Credentials& c) { return c.username == username; });
    if (account == config_.accounts.end()) return {.check = DigestCheck::wrong};
    // RFC 7616 §3.4.6: the digest-uri must name the request's resource, or an answer captured from
    // one request could authorize another.
    if (unquote(first_param(*creds, "uri")) != request.request_uri().text) return {.check = DigestCheck::wrong};
    if (!digest_verify(*creds, request.method_text(), account->password, request.body(), hash_))
        return {.check = DigestCheck::wrong};
    // Compared as an age (no sum that could overflow with a huge configured lifetime).
    if (*issued > now || now - *issued >= config_.nonce_lifetime) return {.check = DigestCheck::stale};
    // Replay protection (RFC 7616 §3.4.6): each answer must use a higher nonce count than the last
    // one accepted with its nonce; without qop (RFC 2069 form, no nc) a nonce serves once.
    std::uint32_t nc = 1;
    if (!first_param(*creds, "qop").empty()) {
        auto v = parse_hex(unquote(first_param(*creds, "nc")));
        if (!v || *v == 0 || *v > 0xFFFFFFFFu) return {.check = DigestCheck::wrong};
        nc = static_cast<std::uint32_t>(*v);
    }
    expire(now);
    std::string key = nonce;
    if (auto it = used_.find(key); it != used_.end()) {
        if (nc <= it->second.nc) return {.check = DigestCheck::stale};
        it->second.nc = nc;
        return {.check = DigestCheck::ok, .user = account->username};
    }
    if (*issued <= floor_) return {.check = DigestCheck::stale};  // its record may have been forgotten
    if (config_.max_nonce_records == 0) return {.check = DigestCheck::stale};
    while (used_.size() >= config_.max_nonce_records && !order_.empty()) {
        auto it = used_.find(order_.front());
        if (it != used_.end()) {
            floor_ = std::max(floor_, it->second.issued);
            used_.erase(it);
        }
        order_.pop_front();
    }
    if (*issued <= floor_) return {.check = DigestCheck::stale};
    used_.emplace(key, Used{.nc = nc, .issued = *issued});
    order_.push_back(std::move(key));
    return {.check = DigestCheck::ok, .user = account->username};
}

}  // namespace referkit
