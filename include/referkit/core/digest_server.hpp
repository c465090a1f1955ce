// The UAS side of HTTP Digest (RFC 3261 §22.2-§22.4, RFC 7616 §3.3-§3.5, RFC 8760): challenging a
// request, verifying its answer, nonce expiry and replay protection. A pure machine: the time, the
// hash and the random values that seed its secret are the caller's.
//
// Nonces are stateless: "<issued>-<salt>-<mac>", the mac a hash of a secret drawn at construction,
// so issuing a challenge to a stranger stores nothing. Only an answer that verifies stores state:
// the highest nonce count used with that nonce (RFC 7616 §3.4.6), so that a captured request
// cannot be replayed. That table is bounded (max_nonce_records); when it is full the oldest entry
// goes and every nonce issued before it becomes stale (the client is asked again, never let in).
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "referkit/core/digest.hpp"
#include "referkit/core/message.hpp"
#include "referkit/core/time.hpp"

namespace referkit {

struct DigestServerConfig {
    std::string realm = "referkit";
    // Who may authenticate: username and password (their realm is ignored: ours is `realm`).
    std::vector<Credentials> accounts = {};
    // Challenges offered, preferred first (RFC 8760 §2.4: one WWW-Authenticate per algorithm).
    std::vector<DigestAlgorithm> algorithms = {DigestAlgorithm::sha256, DigestAlgorithm::md5};
    // A nonce older than this is stale: a correct answer with it gets a new challenge with
    // stale=true (RFC 7616 §3.3), which clients answer without asking the user again.
    Duration nonce_lifetime = std::chrono::minutes(5);
    // Nonces whose use is remembered for replay protection (those answered correctly, at most one
    // entry each). Full: the oldest is forgotten and nonces issued before it become stale.
    std::size_t max_nonce_records = 4096;
};

enum class DigestCheck : std::uint8_t {
    ok,            // authenticated: `user` is set
    missing,       // no credentials for our realm: challenge
    bad_nonce,     // the nonce is not one we issued (or is malformed): challenge
    wrong,         // unknown user, wrong password, or the digest-uri is not the Request-URI: challenge
    stale,         // a correct answer with an expired or already used (replayed) nonce: stale=true
};
[[nodiscard]] std::string_view to_string(DigestCheck c) noexcept;

struct DigestVerdict {
    DigestCheck check = DigestCheck::missing;
    std::string user = {};  // ok: the authenticated username
};

class DigestServer {
public:
    // `secret_a`, `secret_b`: two values of the caller's random source (the nonces' key).
    DigestServer(DigestServerConfig config, DigestHash hash, std::uint64_t secret_a, std::uint64_t secret_b);

    // Checks the Authorization headers of `request` (the one naming our realm).
    [[nodiscard]] DigestVerdict check(const Message& request, Time now);
    // The WWW-Authenticate values of a 401 (one per configured algorithm), with a fresh nonce.
    [[nodiscard]] std::vector<std::string> challenge(Time now, bool stale, std::uint64_t salt) const;

    [[nodiscard]] const DigestServerConfig& config() const noexcept { return config_; }
    [[nodiscard]] std::size_t nonce_records() const noexcept { return used_.size(); }

private:
    struct Used {
        std::uint32_t nc = 0;
        Time issued{};
    };
    [[nodiscard]] std::string mac(std::string_view issued_and_salt) const;
    // The time a nonce of ours was issued; nullopt when it is not ours.
    [[nodiscard]] std::optional<Time> issued_at(std::string_view nonce) const;
    void expire(Time now);

    DigestServerConfig config_;
    DigestHash hash_;
    std::string secret_;
    std::unordered_map<std::string, Used> used_;  // nonce -> highest nc answered correctly
    std::deque<std::string> order_;               // nonces of used_, oldest first
    Time floor_ = Time::min();                    // nonces issued at or before this are stale
};

}  // namespace referkit
